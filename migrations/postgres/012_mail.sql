-- Mail. A link in the invitations table is either an admin's invitation (or `user reset`) or a
-- "Forgot your password?" link the user asked for; a sign-in ends only the latter.
ALTER TABLE invitations ADD COLUMN purpose TEXT NOT NULL DEFAULT 'invite';

-- The browsers each account signed in from (a random id in a long-lived cookie, stored hashed),
-- for the opt-in notice of a sign-in from a browser not seen before.
CREATE TABLE known_browsers (
  user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  browser    TEXT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen  BIGINT NOT NULL,
  PRIMARY KEY (user_id, browser)
);
