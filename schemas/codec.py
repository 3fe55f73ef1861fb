"""Avro on the wire: single-object encoding (CRC-64-AVRO fingerprint) by default, or the
Confluent wire format (magic 0 + schema id) when a schema registry is used.

Parsed schemas are cached by fingerprint; decoding resolves the writer's schema to the
reader's, so a v2 reader reads v1 data.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import fastavro

from govbus.schemas.catalogue import Schema, parse_schema, schema_fingerprint
from govbus.schemas.errors import ReasonedError

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
Record = dict[str, Any]


class CodecError(ReasonedError):
    """The bytes are not a decodable Avro record of a known schema."""


class AvroCodec:
    """Encodes and decodes Avro records framed with the schema's identity."""

    def __init__(self) -> None:
        self._schemas: dict[bytes, Schema] = {}
        self._parsed: dict[bytes, Schema] = {}

    def register(self, schema: Schema) -> bytes:
        fp = schema_fingerprint(schema)
        if fp not in self._parsed:
            self._schemas[fp] = schema
            self._parsed[fp] = parse_schema(schema)
        return fp

    def schema(self, fp: bytes) -> Schema | None:
        return self._schemas.get(fp)

    def encode(self, fp: bytes, record: Record) -> bytes:
        parsed = self._parsed[fp]
        out = io.BytesIO()
        out.write(SINGLE_OBJECT_MAGIC)
        out.write(fp)
        try:
            fastavro.schemaless_writer(out, parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise CodecError("codec.encode", f"record does not match schema: {exc}") from None
        return out.getvalue()

    @staticmethod
    def fingerprint_of(data: bytes) -> bytes:
        """The writer's fingerprint from the single-object header (framing checked)."""
        if len(data) < 10:
            raise CodecError("codec.truncated", "shorter than the single-object header")
        if data[:2] != SINGLE_OBJECT_MAGIC:
            raise CodecError("codec.magic", "not Avro single-object encoding (bad magic)")
        return bytes(data[2:10])

    def decode(self, data: bytes, reader: Schema | None = None) -> tuple[bytes, Record]:
        """Returns (writer fingerprint, record); raises CodecError with a reason code."""
        fp = self.fingerprint_of(data)
        writer = self._parsed.get(fp)
        if writer is None:
            raise CodecError("codec.unknown_schema", f"unknown schema fingerprint {fp.hex()}")
        return fp, decode_body(data, 10, writer, parse_schema(reader) if reader else None)


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


class ConfluentCodec:
    """Confluent wire format; ``lookup`` resolves a registry id to its schema."""

    def __init__(self, lookup: Callable[[int], Schema]) -> None:
        self._lookup = lookup
        self._parsed: dict[int, Schema] = {}

    def encode(self, schema_id: int, schema: Schema, record: Record) -> bytes:
        out = io.BytesIO()
        out.write(CONFLUENT_MAGIC + schema_id.to_bytes(4, "big"))
        fastavro.schemaless_writer(out, parse_schema(schema), record)
        return out.getvalue()

    def decode(self, data: bytes, reader: Schema | None = None) -> tuple[int, Record]:
        if len(data) < 5:
            raise CodecError("codec.truncated", "shorter than the Confluent header")
        if data[:1] != CONFLUENT_MAGIC:
            raise CodecError("codec.magic", "not Confluent wire format (bad magic)")
        schema_id = int.from_bytes(data[1:5], "big")
        if schema_id not in self._parsed:
            try:
                self._parsed[schema_id] = parse_schema(self._lookup(schema_id))
            except KeyError:
                raise CodecError("codec.unknown_schema", f"unknown schema id {schema_id}") from None
        return schema_id, decode_body(
            data, 5, self._parsed[schema_id], parse_schema(reader) if reader else None
        )
