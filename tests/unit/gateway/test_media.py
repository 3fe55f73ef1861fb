"""Content negotiation of pull pages, and the Avro page a client decodes with fastavro."""

from __future__ import annotations

import io

import fastavro
import pytest
from hypothesis import given
from hypothesis import strategies as st

from govbus.gateway.media import AVRO_TYPES, JSON_TYPES, avro_page, negotiate


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/*", "application/json"])
def test_json_by_default(accept: str | None) -> None:
    assert negotiate(accept) == ("json", "application/json")


@pytest.mark.parametrize("media", AVRO_TYPES)
def test_each_avro_type_is_answered_in_kind(media: str) -> None:
    assert negotiate(media) == ("avro", media)
    assert negotiate(f"text/html, {media.upper()};q=0.9") == ("avro", media)


@pytest.mark.parametrize(
    ("accept", "variant"),
    [
        ("application/json;q=0.5, application/avro", "avro"),
        ("application/avro;q=0.5, application/json", "json"),
        ("application/avro;q=0, */*", "json"),
        ("application/json;q=0, application/avro;q=0.1", "avro"),
        ("application/avro, application/json", "avro"),  # equal q: the first
    ],
)
def test_quality_values_decide(accept: str, variant: str) -> None:
    chosen = negotiate(accept)
    assert chosen is not None
    assert chosen[0] == variant


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "application/xml, text/plain",
        "application/json;q=0",
        "*/*;q=0",
        "application/avro;q=abc",
        "application/avro;q=2",
    ],
)
def test_nothing_offered_is_not_acceptable(accept: str) -> None:
    assert negotiate(accept) is None


@given(st.text(max_size=200))
def test_any_header_gets_an_answer_or_406_never_an_error(accept: str) -> None:
    chosen = negotiate(accept)
    assert chosen is None or chosen[1] in (*JSON_TYPES, *AVRO_TYPES)


def test_an_avro_page_is_an_object_container_file_fastavro_reads() -> None:
    event = {
        "id": "d1",
        "source": "health",
        "type": "gov.health.birth_registered.v2",
        "subject": "p1",
        "time": "2026-12-02T00:00:00+00:00",
        "dataschema": "http://gw/v1/schemas/00",
        "subscription": "s1",
        "traceparent": None,
        "corrects": "d0",
        "amendment": "correction",
        "cursor": "c1",
        "data": b"\xc3\x01raw",
    }
    reader = fastavro.reader(io.BytesIO(avro_page([event], "c2")))
    assert list(reader) == [{"events": [event], "cursor": "c2"}]
    assert reader.writer_schema is not None
