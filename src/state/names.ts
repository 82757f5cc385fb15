/**
 * The desired-state sections `ssoctl apply` and `ssoctl export` handle, in the order they are
 * applied (apps before the clients and services that name them). A config file may hold them
 * too, so the config loader accepts these names and leaves them to `apply`.
 * Adding one (`saml_sps`) is its name here and its handler in src/state/sections.ts.
 */
export const STATE_SECTIONS = ["users", "apps", "oidc_clients"] as const;

export type StateSectionName = (typeof STATE_SECTIONS)[number];
