"""Event topics must all have GOVBUS_EVENT_PARTITIONS partitions; what is wrong is named,
with the fix that applies."""

from __future__ import annotations

from govbus.config import StreamsSettings
from govbus.kafka_admin import bus_topics, mismatch_message, mismatched
from govbus.schemas.catalogue import default_catalogue


def test_only_topics_with_another_count_are_mismatched() -> None:
    counts = {"govbus.events.a.b.v1": 12, "govbus.events.c.d.v1": 3, "govbus.events.e.f.v1": 24}
    assert mismatched(counts, 12) == {"govbus.events.c.d.v1": 3, "govbus.events.e.f.v1": 24}
    assert mismatched({"govbus.events.a.b.v1": 12}, 12) == {}
    assert mismatched({}, 12) == {}


def test_fewer_partitions_can_be_grown() -> None:
    text = mismatch_message({"govbus.events.c.d.v1": 3}, 12)
    assert "GOVBUS_EVENT_PARTITIONS=12" in text
    assert "govbus.events.c.d.v1 has 3" in text
    assert "--grow-partitions" in text
    assert "cannot remove" not in text


def test_more_partitions_cannot_be_removed() -> None:
    text = mismatch_message({"govbus.events.e.f.v1": 24}, 12)
    assert "--grow-partitions" not in text
    assert "set GOVBUS_EVENT_PARTITIONS to 24" in text


def test_event_topics_default_to_twelve_partitions_and_others_apart() -> None:
    settings = StreamsSettings()
    assert settings.event_partitions == 12
    events = {e.topic for e in default_catalogue()}
    assert events <= set(bus_topics(default_catalogue(), []))
    assert len(events) >= 10
