-- CAS service tickets (issue 14). A row outlives its use: single logout needs, when the session
-- ends, every service that got a ticket in it. No foreign key to sessions: the row must still be
-- readable while the session is being ended; the single-logout sweep takes rows whose session is gone.
CREATE TABLE cas_tickets (
  id         TEXT PRIMARY KEY,              -- 'ST-' + 40 hex characters
  session_id TEXT NOT NULL,
  username   TEXT NOT NULL,
  service    TEXT NOT NULL,                 -- the exact service string the ticket was issued for
  from_sso   INTEGER NOT NULL,              -- 1: issued from an existing session, without a fresh sign-in
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used       INTEGER NOT NULL DEFAULT 0     -- 1 after the first validation, right or wrong
) WITHOUT ROWID;
CREATE INDEX cas_tickets_session ON cas_tickets(session_id);
