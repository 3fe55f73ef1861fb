"""The gateway renders each delivery's JSON once and splices in each reader's cursor: the
text must parse to exactly the CloudEvent it stands for, whatever the data holds."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from govbus.delivery_reader import Received
from govbus.gateway import cursor as cursors
from govbus.gateway.routes_events import cloudevent_body, cloudevent_json
from govbus.schemas.envelope import Envelope

ENV = Envelope(
    id="d-1",
    source="health",
    type="gov.health.birth_registered",
    version=2,
    subject="s-1",
    time=dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC),
    dataschema="govbus:schema:00112233aabbccdd",
)

values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(), st.dates())


def received(record: dict[str, Any], traceparent: str | None = None) -> Received:
    return Received(ENV, record, "sub-1", 0, 7, {}, traceparent, b'\x00raw\n"bytes')


@given(
    record=st.dictionaries(st.text(min_size=1), values, max_size=6),
    positions=st.dictionaries(st.integers(0, 63), st.integers(0, 2**40), min_size=1),
    avro=st.booleans(),
    traceparent=st.none() | st.just("00-" + "a" * 32 + "-" + "b" * 16 + "-01"),
)
def test_the_spliced_text_is_the_cloudevent(
    record: dict[str, Any], positions: dict[int, int], avro: bool, traceparent: str | None
) -> None:
    item = received(record, traceparent)
    token = cursors.encode(positions)
    text = cloudevent_json(item, token, avro=avro)
    assert json.loads(text) == {**cloudevent_body(item, avro=avro), "govbuscursor": token}
    assert cursors.decode(json.loads(text)["govbuscursor"], 64) == positions


def test_rendered_once_per_variant_and_cursor_per_reader() -> None:
    item = received({"baby_name": "王*明"})
    first = cloudevent_json(item, cursors.encode({0: 8}))
    assert set(item.rendered) == {"json"}
    item.rendered["json"] = item.rendered["json"].replace("王*明", "cached")
    again = json.loads(cloudevent_json(item, cursors.encode({0: 9})))
    assert again["data"] == {"baby_name": "cached"}  # served from the rendering, not re-made
    assert json.loads(first)["govbuscursor"] != again["govbuscursor"]
    cloudevent_json(item, cursors.encode({0: 9}), avro=True)
    assert set(item.rendered) == {"json", "avro"}
