"""Where a worker's CPU goes, without Kafka or Redis in the way: the batch logic (validate,
dedupe claims, route, project and mask, audit) on N encoded births with three masked
subscriptions, under pyinstrument.

    .venv/bin/python -m bench.profile_pipeline [--events 5000] [--html out.html]

Prints events/s of the pure batch logic and the profile's top frames.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections.abc import Sequence
from pathlib import Path

from pyinstrument import Profiler

from bench.common import MASKED
from govbus.adapters.publisher import EventEncoder
from govbus.config import KeySettings
from govbus.policy import parse_policy
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.streams.dedupe import InMemoryDedupe
from govbus.streams.deliver import Projector
from govbus.streams.messages import InMessage, Output
from govbus.streams.pipeline import Pipeline
from govbus.streams.validate import Validator
from govbus_devtools.demo.sample_data import birth

BIRTH = "gov.health.birth_registered"
TOPIC = "govbus.events.health.birth_registered.v2"


class NullSink:
    def __init__(self) -> None:
        self.outputs = 0

    def commit(self, outputs: Sequence[Output]) -> None:
        self.outputs += len(outputs)


def build(batch: int) -> tuple[Pipeline, list[list[InMessage]]]:
    catalogue = default_catalogue()
    codec = AvroCodec()
    for event in catalogue:
        codec.register(event.schema)
    policy = parse_policy(
        {
            "subscriptions": [
                {
                    "id": f"s{i}",
                    "subscriber": f"dept_{i}",
                    "event_types": [BIRTH],
                    "fields": MASKED,
                    "legal_basis": "law",
                    "purpose": "profile",
                    "approval": {"approver": "x", "approved_at": "2026-01-01T00:00:00Z"},
                }
                for i in range(3)
            ]
        }
    )
    pipeline = Pipeline(
        app_id="profile",
        validator=Validator(catalogue, codec, 1_000_000, subjects=Pseudonymizer(KeySettings())),
        projector=Projector(codec, Pseudonymizer(KeySettings())),
        codec=codec,
        policy=lambda: policy,
        sink=NullSink(),
        dedupe=InMemoryDedupe(),
        load_progress=dict,
    )
    encoder = EventEncoder("health", catalogue)
    rng = random.Random(7)
    messages = []
    for offset in range(batch * 25):
        prepared = encoder.prepare(BIRTH, birth(rng, dt.date.today()))
        messages.append(InMessage(TOPIC, 0, offset, prepared.key, prepared.value, prepared.headers))
    return pipeline, [messages[i : i + batch] for i in range(0, len(messages), batch)]


def timed(events: int, batch: int = 200) -> float:
    """Events/s of the batch logic alone, no profiler attached."""
    pipeline, batches = build(batch)
    batches = batches[: max(events // batch, 1)]
    started = time.perf_counter()
    for messages in batches:
        pipeline.process(messages)
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


def run(events: int, html: Path | None) -> float:
    batch = 200
    pipeline, batches = build(batch)
    batches = batches[: max(events // batch, 1)]
    profiler = Profiler(interval=0.0005)
    with profiler:
        for messages in batches:
            pipeline.process(messages)
    print(profiler.output_text(unicode=False, color=False, show_all=False)[:6000])
    if html is not None:
        html.write_text(profiler.output_html())
    rates = sorted(timed(events, batch) for _ in range(3))
    print(
        f"pure batch logic: {rates[1]:,.0f} events/s, median of 3 unprofiled runs "
        f"(3 masked subscriptions, batches of {batch})"
    )
    return rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--html", type=Path)
    parser.add_argument("--no-profile", action="store_true", help="only the timed runs")
    args = parser.parse_args()
    if args.no_profile:
        rates = sorted(timed(args.events) for _ in range(3))
        print(f"pure batch logic: {rates[1]:,.0f} events/s (median of 3)")
    else:
        run(args.events, args.html)


if __name__ == "__main__":
    main()
