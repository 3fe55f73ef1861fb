-- govbus transactional outbox. A department writes one row per event INSIDE its own
-- business transaction; `govbus outbox relay` moves rows to Kafka and marks them sent only
-- after the broker acknowledged. {table} is replaced by the (quoted) table name.
CREATE TABLE IF NOT EXISTS {table} (
    seq            bigserial PRIMARY KEY,           -- relay order
    id             uuid NOT NULL UNIQUE,            -- becomes the event id (ce_id); the bus dedupes on it
    source         text NOT NULL,                   -- publishing department id, e.g. 'health'
    aggregate_type text NOT NULL,                   -- e.g. 'birth'
    aggregate_id   text NOT NULL,                   -- events of one aggregate are relayed in order
    event_type     text NOT NULL,                   -- catalogue type, e.g. 'gov.health.birth_registered'
    event_version  int,                             -- null = the catalogue's latest version
    payload        jsonb NOT NULL,                  -- the event data; dates as ISO strings
    correlation_id text,                            -- one "get one thing done" case
    causation_id   text,
    traceparent    text,                            -- W3C trace context of the business transaction
    created_at     timestamptz NOT NULL DEFAULT now(),
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'sent', 'rejected')),
    attempts       int NOT NULL DEFAULT 0,
    sent_at        timestamptz,
    error          text                             -- why a row was rejected (never silently dropped)
);
-- Added after the first release; older outboxes gain it in place.
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS corrects text;  -- id of the event this one corrects
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS retract boolean NOT NULL DEFAULT false;  -- withdraws it
CREATE INDEX IF NOT EXISTS {index} ON {table} (aggregate_id, seq) WHERE status = 'pending';
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify({channel}, '');
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS {trigger} ON {table};
CREATE TRIGGER {trigger} AFTER INSERT ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
