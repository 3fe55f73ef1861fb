"""Avro on the wire: single-object encoding (CRC-64-AVRO fingerprint) by default, or the
Confluent wire format (magic 0 + schema id) when a schema registry is used.

Parsed schemas are cached by fingerprint; decoding resolves the writer's schema to the
reader's, so a v2 reader reads v1 data.
"""

from __future__ import annotations

import io
from typing import Any, Protocol

import fastavro

from govbus.schemas.catalogue import Schema, parse_schema, schema_fingerprint
from govbus.schemas.errors import ReasonedError

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
Record = dict[str, Any]


class CodecError(ReasonedError):
    """The bytes are not a decodable Avro record of a known schema."""


class SchemaLookup(Protocol):
    def schema(self, schema_id: int) -> Schema: ...


class AvroCodec:
    """Single-object encoding by default. With a registry, also reads the Confluent wire
    format (magic 0 + schema id) and can write it; the framing is told by the magic bytes."""

    def __init__(self, registry: SchemaLookup | None = None) -> None:
        self._schemas: dict[bytes, Schema] = {}
        self._parsed: dict[bytes, Schema] = {}
        self._registry = registry
        self._fp_by_id: dict[int, bytes] = {}

    def register(self, schema: Schema) -> bytes:
        fp = schema_fingerprint(schema)
        if fp not in self._parsed:
            self._parsed[fp] = parse_schema(schema)
        # The same fingerprint is the same canonical form; the latest attributes (such as
        # the projection's subscriber) are kept.
        self._schemas[fp] = schema
        return fp

    def schema(self, fp: bytes) -> Schema | None:
        return self._schemas.get(fp)

    def encode(self, fp: bytes, record: Record) -> bytes:
        return self._write(SINGLE_OBJECT_MAGIC + fp, fp, record)

    def encode_confluent(self, schema_id: int, fp: bytes, record: Record) -> bytes:
        return self._write(CONFLUENT_MAGIC + schema_id.to_bytes(4, "big"), fp, record)

    def _write(self, header: bytes, fp: bytes, record: Record) -> bytes:
        out = io.BytesIO()
        out.write(header)
        try:
            fastavro.schemaless_writer(out, self._parsed[fp], record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise CodecError("codec.encode", f"record does not match schema: {exc}") from None
        return out.getvalue()

    def fingerprint_of(self, data: bytes) -> bytes:
        """The writer schema's fingerprint, from either framing (framing checked)."""
        return self._frame(data)[0]

    def _frame(self, data: bytes) -> tuple[bytes, int]:
        """(writer fingerprint, header length)."""
        if data[:1] == CONFLUENT_MAGIC and self._registry is not None:
            if len(data) < 5:
                raise CodecError("codec.truncated", "shorter than the Confluent header")
            schema_id = int.from_bytes(data[1:5], "big")
            if schema_id not in self._fp_by_id:
                try:
                    self._fp_by_id[schema_id] = self.register(self._registry.schema(schema_id))
                except KeyError:
                    raise CodecError(
                        "codec.unknown_schema", f"schema id {schema_id} is not in the registry"
                    ) from None
            return self._fp_by_id[schema_id], 5
        if len(data) < 10:
            raise CodecError("codec.truncated", "shorter than the single-object header")
        if data[:2] != SINGLE_OBJECT_MAGIC:
            raise CodecError(
                "codec.magic", "neither Avro single-object nor (with a registry) Confluent framing"
            )
        return bytes(data[2:10]), 10

    def decode(self, data: bytes, reader: Schema | None = None) -> tuple[bytes, Record]:
        """Returns (writer fingerprint, record); raises CodecError with a reason code."""
        fp, header = self._frame(data)
        writer = self._parsed.get(fp)
        if writer is None:
            raise CodecError("codec.unknown_schema", f"unknown schema fingerprint {fp.hex()}")
        return fp, decode_body(data, header, writer, parse_schema(reader) if reader else None)


def decode_body(data: bytes, offset: int, writer: Schema, reader: Schema | None) -> Record:
    buf = io.BytesIO(data)
    buf.seek(offset)
    try:
        record = fastavro.schemaless_reader(buf, writer, reader)
    except Exception as exc:
        reason = type(exc).__name__
        raise CodecError("codec.payload", f"payload does not decode: {reason}") from None
    if buf.tell() != len(data):
        raise CodecError("codec.trailing", f"{len(data) - buf.tell()} bytes after the record")
    if not isinstance(record, dict):
        raise CodecError("codec.payload", "payload is not a record")
    return record
