-- Users, applications, sessions, throttling, retired keys and the audit trail.
CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name          TEXT NOT NULL DEFAULT '',
  email         TEXT NOT NULL DEFAULT '',
  groups        TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  last_login_at INTEGER
);

CREATE TABLE apps (
  id         INTEGER PRIMARY KEY,
  origin     TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
  created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
  id          TEXT PRIMARY KEY,
  user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
  username    TEXT NOT NULL,
  anonymous   INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  client_addr TEXT NOT NULL DEFAULT '',
  user_agent  TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE throttle (
  scope        TEXT NOT NULL,            -- 'user' or 'addr'
  key          TEXT NOT NULL,            -- lower-cased username, or client address
  failures     INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  locked_until INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, key)
) WITHOUT ROWID;

CREATE TABLE retired_keys (
  kid        TEXT PRIMARY KEY,
  secret     TEXT NOT NULL,
  retired_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit (
  id       INTEGER PRIMARY KEY,
  at       INTEGER NOT NULL,
  event    TEXT NOT NULL,
  username TEXT,
  detail   TEXT NOT NULL DEFAULT '{}'
);
