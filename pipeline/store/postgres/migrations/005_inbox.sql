-- Deliveries acknowledged before they are applied (store.Store's inbox,
-- pipeline.Inbox): an acknowledgement waits for this one insert, not for
-- the intake's transaction. payload is the event (event.Encode). A row is
-- claimable when due_at has passed: a claim moves due_at on by its time to
-- live, a failed application by its backoff. Times are Unix nanoseconds.
CREATE TABLE inbox (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forge       TEXT    NOT NULL,
    delivery_id TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    received_at BIGINT  NOT NULL,
    payload     BYTEA   NOT NULL,
    due_at      BIGINT  NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (forge, delivery_id)
);
