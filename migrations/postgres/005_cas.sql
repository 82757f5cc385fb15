-- CAS service tickets (issue 14), as migrations/sqlite/005_cas.sql. A row outlives its use: single
-- logout needs, when the session ends, every service that got a ticket in it. No foreign key to
-- sessions: the single-logout sweep takes rows whose session is gone. No trigger: no cache depends on tickets.
CREATE TABLE cas_tickets (
  id         TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  username   TEXT NOT NULL,
  service    TEXT NOT NULL,
  from_sso   BOOLEAN NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used       BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX cas_tickets_session ON cas_tickets (session_id);
