-- Second factor (issue 12): TOTP, recovery codes, passkeys, short-lived pending records
-- (a half-done sign-in, a WebAuthn challenge, an enrolment in progress), invitations, settings.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT '';

CREATE TABLE totp (
  user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret     TEXT NOT NULL,              -- base32
  last_step  INTEGER NOT NULL DEFAULT 0, -- the last time step accepted: a code is good once
  created_at INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
  id        INTEGER PRIMARY KEY,
  user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,               -- SHA-256 of the code
  used_at   INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);

CREATE TABLE passkeys (
  id           TEXT PRIMARY KEY,         -- credential id, base64url
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  public_key   TEXT NOT NULL,            -- COSE key, base64url
  counter      INTEGER NOT NULL DEFAULT 0,
  transports   TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
) WITHOUT ROWID;
CREATE INDEX passkeys_user ON passkeys(user_id);

CREATE TABLE pending (
  id         TEXT PRIMARY KEY,           -- SHA-256 of the random id handed to the browser
  kind       TEXT NOT NULL,
  username   TEXT,
  data       TEXT NOT NULL DEFAULT '{}',
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX pending_expiry ON pending(expires_at);

CREATE TABLE invitations (
  token_hash TEXT PRIMARY KEY,           -- SHA-256 of the token in the link
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX invitations_user ON invitations(user_id);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
