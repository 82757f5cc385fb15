-- Users, applications, sessions, throttling, keys and the audit trail (as migrations/sqlite/001_initial.sql),
-- plus the signing key, which lives here so that every login server signs with the same one.
-- Usernames and app names are unique ignoring ASCII case (they are ASCII by rule).
CREATE TABLE users (
  id            BIGSERIAL PRIMARY KEY,
  username      TEXT NOT NULL,
  name          TEXT NOT NULL DEFAULT '',
  email         TEXT NOT NULL DEFAULT '',
  groups        TEXT NOT NULL DEFAULT '',
  password_hash TEXT NOT NULL,
  disabled      BOOLEAN NOT NULL DEFAULT false,
  created_at    BIGINT NOT NULL,
  last_login_at BIGINT
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE apps (
  id         BIGSERIAL PRIMARY KEY,
  origin     TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX apps_name ON apps (lower(name));

CREATE TABLE sessions (
  id          TEXT PRIMARY KEY,
  user_id     BIGINT REFERENCES users(id) ON DELETE CASCADE,
  username    TEXT NOT NULL,
  anonymous   BOOLEAN NOT NULL DEFAULT false,
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  client_addr TEXT NOT NULL DEFAULT '',
  user_agent  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_username ON sessions (lower(username));
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE throttle (
  scope        TEXT NOT NULL,
  key          TEXT NOT NULL,
  failures     INTEGER NOT NULL,
  window_start BIGINT NOT NULL,
  locked_until BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, key)
);

CREATE TABLE retired_keys (
  kid        TEXT PRIMARY KEY,
  secret     TEXT NOT NULL,
  retired_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);

CREATE TABLE signing_key (
  id         SMALLINT PRIMARY KEY CHECK (id = 1),
  secret     TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE audit (
  id       BIGSERIAL PRIMARY KEY,
  at       BIGINT NOT NULL,
  event    TEXT NOT NULL,
  username TEXT,
  detail   TEXT NOT NULL DEFAULT '{}'
);

-- Every write a server's cache may depend on tells every server, in the writing transaction
-- (so only once it commits): users (not the last-login time), apps, ended sessions, keys.
-- New sessions, throttling counts and audit rows do not: a sign-in flood keeps the caches.
CREATE FUNCTION ssoctl_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ssoctl_changes', TG_TABLE_NAME);
  RETURN NULL;
END;
$$;
CREATE TRIGGER users_changed AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF username, name, email, groups, password_hash, disabled
  ON users FOR EACH STATEMENT EXECUTE FUNCTION ssoctl_notify_change();
CREATE TRIGGER apps_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON apps FOR EACH STATEMENT EXECUTE FUNCTION ssoctl_notify_change();
CREATE TRIGGER sessions_ended AFTER DELETE OR TRUNCATE OR UPDATE
  ON sessions FOR EACH STATEMENT EXECUTE FUNCTION ssoctl_notify_change();
CREATE TRIGGER retired_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON retired_keys FOR EACH STATEMENT EXECUTE FUNCTION ssoctl_notify_change();
CREATE TRIGGER signing_key_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON signing_key FOR EACH STATEMENT EXECUTE FUNCTION ssoctl_notify_change();
