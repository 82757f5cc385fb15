-- The LDAP interface, as migrations/sqlite/010_ldap.sql: service accounts and users' app passwords,
-- each a SHA-256 of a random secret shown once. No trigger: binds read these directly, no cache does.
CREATE TABLE ldap_accounts (
  id           BIGSERIAL PRIMARY KEY,
  name         TEXT NOT NULL,
  app_id       BIGINT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  secret_hash  TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT
);
CREATE UNIQUE INDEX ldap_accounts_name ON ldap_accounts (lower(name));

CREATE TABLE app_passwords (
  id           BIGSERIAL PRIMARY KEY,
  user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  label        TEXT NOT NULL,
  secret_hash  TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT
);
CREATE UNIQUE INDEX app_passwords_label ON app_passwords (user_id, lower(label));
CREATE INDEX app_passwords_hash ON app_passwords (secret_hash);

-- Users who sign in through a directory, as migrations/sqlite/010_ldap.sql.
CREATE TABLE directory_users (
  user_id    BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  directory  TEXT NOT NULL,
  dn         TEXT NOT NULL,
  checked_at BIGINT NOT NULL
);
