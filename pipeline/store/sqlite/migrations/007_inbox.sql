-- Deliveries acknowledged before they are applied (store.Store's inbox,
-- pipeline.Inbox). expbot applies deliveries before answering on SQLite
-- and uses the inbox on PostgreSQL only; the driver keeps it so that both
-- drivers hold to one contract (storetest). payload is the event
-- (event.Encode). A row is claimable
-- when due_at has passed: a claim moves due_at on by its time to live, a
-- failed application by its backoff. Times are Unix nanoseconds.
CREATE TABLE inbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    forge       TEXT    NOT NULL,
    delivery_id TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    payload     BLOB    NOT NULL,
    due_at      INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (forge, delivery_id)
);
