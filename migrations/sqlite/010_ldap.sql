-- The LDAP interface: service accounts (one per app that searches the directory) and users' app
-- passwords (for LDAP binds, which carry no second factor). Both hold only a SHA-256 of a random
-- secret shown once; removing the app or the user removes them.
CREATE TABLE ldap_accounts (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE COLLATE NOCASE,
  app_id       INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  secret_hash  TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER
);

CREATE TABLE app_passwords (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  label        TEXT NOT NULL COLLATE NOCASE,
  secret_hash  TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  UNIQUE (user_id, label)
);
CREATE INDEX app_passwords_hash ON app_passwords(secret_hash);

-- Users who sign in through a directory (DESIGN §19): their row in users carries no password
-- (the directory checks it); this says which directory and entry, and when it was last read.
CREATE TABLE directory_users (
  user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  directory  TEXT NOT NULL,
  dn         TEXT NOT NULL,
  checked_at INTEGER NOT NULL
);
