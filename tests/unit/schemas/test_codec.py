from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govbus.schemas.catalogue import EventType, default_catalogue
from govbus.schemas.codec import AvroCodec, CodecError
from tests.strategies import records

CATALOGUE = default_catalogue()


def codec_for_all() -> AvroCodec:
    codec = AvroCodec()
    for event in CATALOGUE:
        codec.register(event.schema)
    return codec


@pytest.mark.parametrize("event", list(CATALOGUE), ids=lambda e: e.ce_type)
@settings(
    max_examples=40,
    # too_slow: generation speed depends on the machine's load (make test runs in parallel)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_round_trip_every_catalogue_type(event: EventType, data: st.DataObject) -> None:
    codec = codec_for_all()
    record = data.draw(records(event))
    encoded = codec.encode(event.fingerprint, record)
    assert encoded[:2] == b"\xc3\x01"
    fp, decoded = codec.decode(encoded)
    assert fp == event.fingerprint
    assert decoded == record


def test_v2_reader_reads_v1_data() -> None:
    v1 = CATALOGUE.get("gov.tax.tax_registered", 1)
    assert v1 is not None
    v2: dict[str, Any] = copy.deepcopy(v1.schema)
    v2["fields"].append(
        {
            "name": "channel",
            "type": "string",
            "default": "window",
            "doc": "d",
            "govbus.class": "public",
        }
    )
    codec = AvroCodec()
    codec.register(v1.schema)
    record = {
        "credit_code": "91350100M000100Y43",
        "tax_authority": "x",
        "taxpayer_type": "GENERAL",
        "registered_on": dt.date(2026, 1, 2),
    }
    _, decoded = codec.decode(codec.encode(v1.fingerprint, record), reader=v2)
    assert decoded == {**record, "channel": "window"}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "codec.truncated"),
        (b"\x00\x01" + b"\x00" * 20, "codec.magic"),
        (b"\xc3\x01" + b"\xff" * 8 + b"\x00", "codec.unknown_schema"),
    ],
)
def test_bad_framing_is_a_reasoned_error(data: bytes, reason: str) -> None:
    with pytest.raises(CodecError) as err:
        codec_for_all().decode(data)
    assert err.value.reason == reason


@given(st.binary(max_size=200))
def test_garbage_after_a_valid_header_never_crashes(body: bytes) -> None:
    event = CATALOGUE.get("gov.health.birth_registered")
    assert event is not None
    codec = codec_for_all()
    try:
        codec.decode(b"\xc3\x01" + event.fingerprint + body)
    except CodecError as exc:
        outcome = exc.reason
    else:
        outcome = "decoded"  # random bytes can happen to form a valid record
    assert outcome in ("codec.payload", "codec.trailing", "decoded")


def test_trailing_bytes_are_refused() -> None:
    event = CATALOGUE.get("gov.civil_affairs.cremation_recorded")
    assert event is not None
    codec = codec_for_all()
    record = {
        "citizen_id": "11010519491231002X",
        "cremation_date": dt.date(2026, 1, 2),
        "funeral_home_code": "F1",
        "region_code": "110105",
    }
    with pytest.raises(CodecError) as err:
        codec.decode(codec.encode(event.fingerprint, record) + b"\x00")
    assert err.value.reason == "codec.trailing"


class DictRegistry:
    def __init__(self, schemas: dict[int, Any]) -> None:
        self.schemas = schemas

    def schema(self, schema_id: int) -> Any:
        return self.schemas[schema_id]


def test_confluent_wire_format_round_trip_with_a_registry() -> None:
    event = CATALOGUE.get("gov.tax.tax_registered")
    assert event is not None
    codec = AvroCodec(registry=DictRegistry({7: event.schema}))
    fp = codec.register(event.schema)
    record = {
        "credit_code": "91350100M000100Y43",
        "tax_authority": "x",
        "taxpayer_type": "GENERAL",
        "registered_on": dt.date(2026, 1, 2),
    }
    data = codec.encode_confluent(7, fp, record)
    assert data[:5] == b"\x00\x00\x00\x00\x07"
    reader = AvroCodec(registry=DictRegistry({7: event.schema}))
    assert reader.decode(data) == (event.fingerprint, record)
    assert reader.fingerprint_of(data) == event.fingerprint
    with pytest.raises(CodecError) as err:
        reader.decode(b"\x00\x00\x00\x00\x08" + data[5:])
    assert err.value.reason == "codec.unknown_schema"
    # Without a registry the Confluent framing is refused with a clear reason.
    with pytest.raises(CodecError) as err:
        AvroCodec().decode(data)
    assert err.value.reason == "codec.magic"
