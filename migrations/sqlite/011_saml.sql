-- SAML 2.0 identity provider (DESIGN §20): the registered service providers, the AuthnRequest
-- IDs already answered (kept until the request would have expired, so none is answered twice),
-- and which SP received an assertion in which session (single logout tells them when it ends).
CREATE TABLE saml_sps (
  entity_id     TEXT PRIMARY KEY,
  app_origin    TEXT NOT NULL,              -- the registered app whose access rules apply
  metadata      TEXT NOT NULL,              -- the SP's metadata XML as registered (ACS URLs come only from here)
  idp_initiated INTEGER NOT NULL DEFAULT 0, -- 1: sign-ins started at the login server are allowed
  nameid_secret TEXT NOT NULL,              -- HMAC key of this SP's persistent NameIDs (opaque, stable, per SP)
  created_at    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE saml_request_ids (
  entity_id  TEXT NOT NULL,
  request_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (entity_id, request_id)
) WITHOUT ROWID;

-- No foreign key to sessions: the rows must still be readable while the session is being ended.
CREATE TABLE saml_logins (
  session_index  TEXT PRIMARY KEY,
  session_id     TEXT NOT NULL,
  entity_id      TEXT NOT NULL,
  name_id        TEXT NOT NULL,
  name_id_format TEXT NOT NULL,
  created_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX saml_logins_session ON saml_logins(session_id);
