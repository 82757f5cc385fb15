-- OpenID Connect provider (DESIGN §14): registered clients, opaque subject identifiers, the
-- provider's signing keys (a JWKS shared by every server) and the records oidc-provider keeps.
CREATE TABLE oidc_clients (
  client_id        TEXT PRIMARY KEY,
  name             TEXT NOT NULL,
  secret_hash      TEXT,                       -- SHA-256 (hex) of the secret; NULL for a public client
  redirect_uris    TEXT NOT NULL,              -- JSON array, compared exactly
  post_logout_uris TEXT NOT NULL DEFAULT '[]',
  app_origin       TEXT,
  id_token_alg     TEXT NOT NULL DEFAULT 'RS256',
  created_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX oidc_clients_name ON oidc_clients (lower(name));
-- The login page's form-action lists client origins, so clients are a cached table.
CREATE TRIGGER oidc_clients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON oidc_clients FOR EACH STATEMENT EXECUTE FUNCTION ssoctl_notify_change();

-- A random `sub` per user; it goes with the user, so a subject is never reused.
CREATE TABLE oidc_subjects (
  user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  sub     TEXT NOT NULL UNIQUE
);

CREATE TABLE oidc_signing_keys (
  id         SMALLINT PRIMARY KEY CHECK (id = 1),
  jwks       TEXT NOT NULL,                    -- private keys: this table is as secret as signing_key
  updated_at BIGINT NOT NULL
);
CREATE TRIGGER oidc_signing_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON oidc_signing_keys FOR EACH STATEMENT EXECUTE FUNCTION ssoctl_notify_change();

CREATE TABLE oidc_records (
  model       TEXT NOT NULL,
  id          TEXT NOT NULL,
  payload     TEXT NOT NULL,
  grant_id    TEXT,
  uid         TEXT,
  user_code   TEXT,
  account_id  TEXT,
  expires_at  BIGINT,
  consumed_at BIGINT,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_records_grant ON oidc_records (grant_id);
CREATE INDEX oidc_records_uid ON oidc_records (model, uid);
CREATE INDEX oidc_records_account ON oidc_records (account_id);
CREATE INDEX oidc_records_expiry ON oidc_records (expires_at);
