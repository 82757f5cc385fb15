/**
 * Passkeys (WebAuthn, @simplewebauthn/server): which relying-party id this server uses, and the
 * refusal to start with another one than the passkeys were registered under (they would all stop
 * working) unless told to.
 */
import { createHash } from "node:crypto";
import { SsoctlError } from "../errors.js";
import type { Store } from "../store/store.js";

export const RP_ID_SETTING = "webauthn_rp_id";

/** The cookie domain (passkeys then work on every host of it), else the public URL's host. */
export function rpIdOf(config: { cookieDomain?: string | undefined; publicUrl: string }): string {
  if (config.cookieDomain !== undefined && config.cookieDomain !== "") return config.cookieDomain.replace(/^\./, "").toLowerCase();
  return new URL(config.publicUrl).hostname.toLowerCase();
}

/**
 * Why passkeys cannot work at this server, or null when they can: browsers refuse a WebAuthn
 * relying party on an IP address ("This is an invalid domain"), so the pages offer no passkey
 * there and the account page says why.
 */
export function passkeysUnavailable(config: { cookieDomain?: string | undefined; publicUrl: string }): string | null {
  const rpId = rpIdOf(config);
  if (/^\[.*\]$/.test(rpId) || /^\d{1,3}(\.\d{1,3}){3}$/.test(rpId)) {
    return `Passkeys need a host name: browsers refuse them on an IP address such as ${rpId}. To use them, an administrator serves this login server under a name (--public-url https://login.example.com, or http://localhost on this machine).`;
  }
  return null;
}

/**
 * At start-up: the stored rpID (set when the first passkey was registered) must be this one.
 * With `allowChange`, the new one replaces it, and passkeys registered under the old one stop working.
 */
export async function checkRpId(store: Store, rpId: string, options: { allowChange: boolean }): Promise<void> {
  const stored = await store.factors.getSetting(RP_ID_SETTING);
  if (stored === null || stored === rpId) return;
  if (!options.allowChange) {
    throw new SsoctlError(
      `passkeys here were registered for ${stored}, but this server would use ${rpId} (from --cookie-domain or --public-url); ` +
        `every passkey would stop working. Start with the old settings, or pass --allow-new-passkey-domain to accept that.`,
    );
  }
  await store.factors.setSetting(RP_ID_SETTING, rpId);
}

/** The WebAuthn user handle: stable per user, so the same authenticator replaces its own passkey for them. */
export function userHandleOf(username: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash("sha256").update("ssoctl-user\0").update(username.toLowerCase()).digest().subarray(0, 16));
}
