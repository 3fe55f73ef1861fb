"""Tooling for local runs of govbus: the local runtime (Kafka, Redis, PostgreSQL started from
Maven Central and apt), the demo with its sample data and policies. Not shipped: the govbus
wheel and image carry only what runs in production; a dev checkout installs this beside it."""
