"""Ways in: the publisher SDK, the PostgreSQL outbox relay, HTTP ingest, batch files."""
