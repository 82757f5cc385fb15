-- SAML 2.0 identity provider (DESIGN §20), as migrations/sqlite/011_saml.sql. No trigger: the
-- servers read these tables on each SAML request and cache nothing from them.
CREATE TABLE saml_sps (
  entity_id     TEXT PRIMARY KEY,
  app_origin    TEXT NOT NULL,
  metadata      TEXT NOT NULL,
  idp_initiated BOOLEAN NOT NULL DEFAULT false,
  nameid_secret TEXT NOT NULL,
  created_at    BIGINT NOT NULL
);

CREATE TABLE saml_request_ids (
  entity_id  TEXT NOT NULL,
  request_id TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (entity_id, request_id)
);

CREATE TABLE saml_logins (
  session_index  TEXT PRIMARY KEY,
  session_id     TEXT NOT NULL,
  entity_id      TEXT NOT NULL,
  name_id        TEXT NOT NULL,
  name_id_format TEXT NOT NULL,
  created_at     BIGINT NOT NULL
);
CREATE INDEX saml_logins_session ON saml_logins (session_id);
