-- Access rules (DESIGN §11): each app's policy and who may use it, and path rules refining an app.
-- Lists are comma-separated (group names and usernames hold no commas); '' means nobody named.
-- Existing apps keep one_factor for everyone signed in.
ALTER TABLE apps ADD COLUMN policy TEXT NOT NULL DEFAULT 'one_factor'
  CHECK (policy IN ('one_factor', 'two_factor', 'bypass', 'deny'));
ALTER TABLE apps ADD COLUMN allow_groups TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN allow_users TEXT NOT NULL DEFAULT '';

CREATE TABLE access_rules (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  app_id     INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
  path       TEXT NOT NULL,
  methods    TEXT NOT NULL DEFAULT '',
  policy     TEXT CHECK (policy IS NULL OR policy IN ('one_factor', 'two_factor', 'bypass', 'deny')),
  groups     TEXT NOT NULL DEFAULT '',
  users      TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE INDEX access_rules_app ON access_rules(app_id);
