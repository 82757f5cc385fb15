-- OpenID Connect provider (DESIGN §14): registered clients, opaque subject identifiers,
-- and the records oidc-provider keeps (codes, tokens, grants, its sessions, interactions).
CREATE TABLE oidc_clients (
  client_id        TEXT PRIMARY KEY,
  name             TEXT NOT NULL UNIQUE COLLATE NOCASE,
  secret_hash      TEXT,                       -- SHA-256 (hex) of the secret; NULL for a public client
  redirect_uris    TEXT NOT NULL,              -- JSON array, compared exactly
  post_logout_uris TEXT NOT NULL DEFAULT '[]', -- JSON array
  app_origin       TEXT,                       -- the app whose access rules apply
  id_token_alg     TEXT NOT NULL DEFAULT 'RS256',
  created_at       INTEGER NOT NULL
) WITHOUT ROWID;

-- A random `sub` per user, made on first use. It goes with the user (ON DELETE CASCADE): a user
-- added again under the same name gets a new one, so a subject is never reused.
CREATE TABLE oidc_subjects (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  sub     TEXT NOT NULL UNIQUE
);

CREATE TABLE oidc_records (
  model       TEXT NOT NULL,
  id          TEXT NOT NULL,
  payload     TEXT NOT NULL,                   -- JSON, kept open: new properties come with minor releases
  grant_id    TEXT,
  uid         TEXT,
  user_code   TEXT,
  account_id  TEXT,
  expires_at  INTEGER,
  consumed_at INTEGER,
  PRIMARY KEY (model, id)
) WITHOUT ROWID;
CREATE INDEX oidc_records_grant ON oidc_records(grant_id);
CREATE INDEX oidc_records_uid ON oidc_records(model, uid);
CREATE INDEX oidc_records_account ON oidc_records(account_id);
CREATE INDEX oidc_records_expiry ON oidc_records(expires_at);
