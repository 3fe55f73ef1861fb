"""The event catalogue: Avro schemas (the source of truth), envelope, codec, identifiers.

Imports nothing else of govbus, so every other room may depend on it.
"""
