-- Access rules (DESIGN §11), as migrations/sqlite/002_access_rules.sql: each app's policy and who
-- may use it, and path rules refining an app. Existing apps keep one_factor for everyone signed in.
ALTER TABLE apps ADD COLUMN policy TEXT NOT NULL DEFAULT 'one_factor'
  CHECK (policy IN ('one_factor', 'two_factor', 'bypass', 'deny'));
ALTER TABLE apps ADD COLUMN allow_groups TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN allow_users TEXT NOT NULL DEFAULT '';

CREATE TABLE access_rules (
  id         BIGSERIAL PRIMARY KEY,
  app_id     BIGINT NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  path       TEXT NOT NULL,
  methods    TEXT NOT NULL DEFAULT '',
  policy     TEXT CHECK (policy IS NULL OR policy IN ('one_factor', 'two_factor', 'bypass', 'deny')),
  groups     TEXT NOT NULL DEFAULT '',
  users      TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE INDEX access_rules_app ON access_rules (app_id);

-- Every server's access cache depends on the rules: tell them all (apps_changed covers the new columns).
CREATE TRIGGER access_rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON access_rules FOR EACH STATEMENT EXECUTE FUNCTION ssoctl_notify_change();
