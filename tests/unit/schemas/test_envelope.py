from __future__ import annotations

import datetime as dt

import pytest

from govbus.schemas.envelope import Envelope, EnvelopeError

ENV = Envelope(
    id="e-1",
    source="health",
    type="gov.health.birth_registered",
    version=1,
    subject="dev1.abc",
    time=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    correlation_id="case-9",
)


def test_headers_round_trip_in_list_and_mapping_form() -> None:
    headers = ENV.to_headers()
    assert ("ce_type", b"gov.health.birth_registered.v1") in headers
    assert Envelope.from_headers(headers) == ENV
    assert Envelope.from_headers(dict(headers)) == ENV
    as_str = [(k, v.decode()) for k, v in headers]
    assert Envelope.from_headers(as_str) == ENV


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ce_id": None}, "envelope.missing"),
        ({"ce_specversion": b"0.3"}, "envelope.specversion"),
        ({"ce_type": b"birth"}, "envelope.type"),
        ({"ce_type": b"gov.health.birth_registered"}, "envelope.type"),
        ({"ce_source": b"Health Dept"}, "envelope.unsafe"),
        ({"ce_source": b"HEALTH"}, "envelope.source"),
        ({"ce_time": b"yesterday"}, "envelope.time"),
        ({"ce_time": b"2026-01-02T03:04:05"}, "envelope.time"),
        ({"ce_subject": b"a\r\nX-Injected: 1"}, "envelope.unsafe"),
        ({"ce_id": b"\xff\xfe"}, "envelope.encoding"),
        ({"ce_id": b"x" * 600}, "envelope.header_size"),
    ],
)
def test_bad_headers_are_reasoned(change: dict[str, bytes | None], reason: str) -> None:
    headers = dict(ENV.to_headers())
    for key, value in change.items():
        if value is None:
            headers.pop(key)
        else:
            headers[key] = value
    with pytest.raises(EnvelopeError) as err:
        Envelope.from_headers(list(headers.items()))
    assert err.value.reason == reason


def test_the_subject_is_optional_on_input() -> None:
    headers = [(k, v) for k, v in ENV.to_headers() if k != "ce_subject"]
    parsed = Envelope.from_headers(headers)
    assert parsed.subject == ""
    assert "ce_subject" not in dict(parsed.to_headers())


def test_duplicate_header_is_refused() -> None:
    headers = [*ENV.to_headers(), ("ce_source", b"tax")]
    with pytest.raises(EnvelopeError) as err:
        Envelope.from_headers(headers)
    assert err.value.reason == "envelope.duplicate"
