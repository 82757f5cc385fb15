-- Second factor (issue 12), as migrations/sqlite/003_second_factor.sql. No table here feeds a
-- server's cache (sign-in reads them directly), so none notifies; the sessions trigger already does.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';

CREATE TABLE totp (
  user_id    BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret     TEXT NOT NULL,
  last_step  BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
  id        BIGSERIAL PRIMARY KEY,
  user_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used_at   BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

CREATE TABLE passkeys (
  id           TEXT PRIMARY KEY,
  user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  public_key   TEXT NOT NULL,
  counter      BIGINT NOT NULL DEFAULT 0,
  transports   TEXT NOT NULL DEFAULT '',
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

CREATE TABLE pending (
  id         TEXT PRIMARY KEY,
  kind       TEXT NOT NULL,
  username   TEXT,
  data       TEXT NOT NULL DEFAULT '{}',
  expires_at BIGINT NOT NULL
);
CREATE INDEX pending_expiry ON pending (expires_at);

CREATE TABLE invitations (
  token_hash TEXT PRIMARY KEY,
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX invitations_user ON invitations (user_id);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
