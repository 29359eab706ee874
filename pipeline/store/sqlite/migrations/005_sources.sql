-- The state of each request's source that expbot last acted on and the
-- forge's time of it (store.Source): late, older deliveries are told from
-- new ones by it (docs/ordering.md). at is 0 when the time is unknown.
CREATE TABLE sources (
    forge     TEXT    NOT NULL,
    repo_path TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    state     TEXT    NOT NULL,
    PRIMARY KEY (forge, repo_path, key)
) WITHOUT ROWID;
