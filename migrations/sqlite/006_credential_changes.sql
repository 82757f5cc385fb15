-- The account page lists a user's recent credential changes from the audit trail: read by user, newest first.
CREATE INDEX audit_username ON audit(username, id);
