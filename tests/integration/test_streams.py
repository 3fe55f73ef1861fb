"""The stream processors on the real runtime: fan-out with masks, duplicates, dead letters,
hot policy revocation, and a worker SIGKILLed mid-stream."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from govbus import policy_store
from govbus.adapters.publisher import Publisher, PublishError
from govbus.audit_log import read_audit
from govbus.config import ConnectionSettings, KeySettings
from govbus.disclosures import DisclosureStore, subject_pseudonyms
from govbus.dlq import read_dead_letters
from govbus.kafka_read import read_to_end
from govbus.masking import mask_citizen_id, mask_mobile, mask_name
from govbus.policy import Subscription
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.audit import verify
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.envelope import Envelope
from govbus.schemas.topics import delivery_topic
from govbus_devtools.demo.sample_data import birth
from govbus_devtools.devenv.worker import WorkerProcess
from tests.corpus import cases
from tests.integration.helpers import (
    APPROVAL,
    read,
    read_all,
    start_worker,
    topic_size,
    wait_until,
)
from tests.keys import delivery_id, unkeyed_delivery_id

BIRTH = "gov.health.birth_registered"
BIRTH_V2_TOPIC = "govbus.events.health.birth_registered.v2"


def three_subscriptions(uid: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    subs = {"ps": f"ps_{uid}", "cdc": f"cdc_{uid}", "mi": f"mi_{uid}"}
    policy = [
        {
            "id": f"ps-{uid}",
            "subscriber": subs["ps"],
            "event_types": [BIRTH],
            "fields": {"certificate_no": "clear", "baby_name": "clear", "mother_id": "clear"},
            "legal_basis": "Household Registration Regulations art. 7",
            "purpose": "register the newborn",
            "approval": APPROVAL,
        },
        {
            "id": f"cdc-{uid}",
            "subscriber": subs["cdc"],
            "event_types": [BIRTH],
            "fields": {"weight_g": "clear", "guardian_phone": "clear", "mother_id": "pseudonym"},
            "legal_basis": "Vaccine Administration Law art. 47",
            "purpose": "open the vaccination record",
            "approval": APPROVAL,
        },
        {
            "id": f"mi-{uid}",
            "subscriber": subs["mi"],
            "event_types": [BIRTH],
            "fields": {
                "baby_name": "mask",
                "mother_id": "mask",
                "guardian_phone": "mask",
                "birth_date": "generalize.year",
            },
            "legal_basis": "Social Insurance Law art. 25",
            "purpose": "prepare enrolment",
            "approval": APPROVAL,
        },
    ]
    return subs, policy


def start_worker3(
    bootstrap: str, uid: str, state_dir: Path, env: dict[str, str], tmp_path: Path
) -> tuple[dict[str, str], dict[str, str], WorkerProcess]:
    """A running worker with the three subscriptions applied from a policy file."""
    subs, policy = three_subscriptions(uid)
    worker = start_worker(bootstrap, uid, state_dir, {}, tmp_path, policy, env)
    return subs, {**env, "GOVBUS_POLICY_FILE": str(tmp_path / "policy.yaml")}, worker


@pytest.fixture
def worker3(
    bootstrap: str, uid: str, state_dir: Path, worker_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    subs, env, worker = start_worker3(
        bootstrap, uid, state_dir, {**worker_env, "GOVBUS_MAX_EVENT_BYTES": "100000"}, tmp_path
    )
    yield subs, env
    worker.stop()


def test_one_event_fans_out_to_three_subscribers_with_exact_fields(
    bootstrap: str, uid: str, worker3: tuple[dict[str, str], dict[str, str]]
) -> None:
    subs, _ = worker3
    data = birth(random.Random(uid), dt.date.today())
    with Publisher("health") as pub:
        event_id = pub.publish(BIRTH, data).result(timeout=30).event_id
    got = {k: read(bootstrap, s, {delivery_id(s, "health", event_id)}) for k, s in subs.items()}
    records = {k: next(iter(v.values())).record for k, v in got.items() if v}
    assert set(records) == {"ps", "cdc", "mi"}
    # Keyed ids: no department computes another's id of the event from the event id.
    ids = {r.envelope.id for v in got.values() for r in v.values()}
    assert not ids & {unkeyed_delivery_id(s, "health", event_id) for s in subs.values()}
    assert records["ps"] == {
        "certificate_no": data["certificate_no"],
        "baby_name": data["baby_name"],
        "mother_id": data["mother_id"],
    }
    expected_pseudonym = Pseudonymizer(KeySettings()).for_subscriber(
        subs["cdc"], "citizen_id", data["mother_id"]
    )
    assert records["cdc"] == {
        "weight_g": data["weight_g"],
        "guardian_phone": data["guardian_phone"],
        "mother_id": expected_pseudonym,
    }
    assert records["mi"] == {
        "baby_name": mask_name(data["baby_name"]),
        "mother_id": mask_citizen_id(data["mother_id"]),
        "guardian_phone": mask_mobile(data["guardian_phone"]),
        "birth_date": str(data["birth_date"].year),
    }


def test_a_republished_event_is_delivered_once_and_counted(
    bootstrap: str, uid: str, worker3: tuple[dict[str, str], dict[str, str]]
) -> None:
    subs, _ = worker3
    data = birth(random.Random(uid), dt.date.today())
    event_id = f"retry-{uid}"
    with Publisher("health") as pub:
        for _ in range(3):  # a publisher retrying after a timeout
            pub.publish(BIRTH, data, event_id=event_id).result(timeout=30)
    wanted = delivery_id(subs["ps"], "health", event_id)
    assert wanted in read(bootstrap, subs["ps"], {wanted})
    assert wait_until(
        lambda: (
            sum(
                1 for r in read_audit(bootstrap) if r.event_id == event_id and r.kind == "duplicate"
            )
            == 2
        ),
        30,
    )
    time.sleep(2)
    deliveries = [r for r in read_all(bootstrap, subs["ps"]) if r.envelope.id == wanted]
    assert len(deliveries) == 1
    audit = [r for r in read_audit(bootstrap) if r.event_id == event_id]
    assert Counter(r.kind for r in audit) == {"accepted": 1, "delivered": 3, "duplicate": 2}
    assert verify(read_audit(bootstrap)) == []


def test_the_bad_input_corpus_is_dead_lettered_with_reasons_and_the_worker_survives(
    bootstrap: str, uid: str, worker3: tuple[dict[str, str], dict[str, str]]
) -> None:
    corpus = cases(uid)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for case in corpus:
        producer.produce(case.topic, case.value, case.key, headers=case.headers)
    assert producer.flush(30) == 0
    # A normal event after the whole corpus: the worker is alive and still delivering.
    with Publisher("health") as pub:
        after = pub.publish(BIRTH, birth(random.Random(uid), dt.date.today())).result(30)
    subs, _ = worker3
    wanted = {delivery_id(subs["ps"], "health", after.event_id)}
    assert wanted <= set(read(bootstrap, subs["ps"], wanted, timeout_s=60))

    # Some cases have no readable ce_id, so letters are matched on (bytes, reason); the
    # template's facts are seeded by this test's uid, so the bytes are this run's.
    expected = Counter((c.value, c.reason) for c in corpus if c.reason is not None)

    def letters() -> Counter[tuple[bytes | None, str]]:
        return Counter(
            (d.value, d.reason)
            for d in read_dead_letters(bootstrap)
            if d.source_topic == BIRTH_V2_TOPIC and (d.value, d.reason) in expected
        )

    assert wait_until(lambda: letters() == expected, 60), expected - letters()
    legit = {delivery_id(subs["ps"], "health", f"{c.name}-{uid}") for c in corpus if not c.reason}
    assert set(read(bootstrap, subs["ps"], legit, timeout_s=30)) == legit
    assert verify(read_audit(bootstrap)) == []


def test_a_raw_kafka_publisher_cannot_choose_the_subject(
    runtime: ConnectionSettings,
    bootstrap: str,
    uid: str,
    worker3: tuple[dict[str, str], dict[str, str]],
) -> None:
    """A legacy producer that puts a clear ID into the key and ``ce_subject`` gets a dead
    letter, and the clear ID reaches no audit record; one that leaves ``ce_subject`` out (as
    the SDK does) is delivered under the subject the bus computed, which is what the
    citizen's disclosure report looks up."""
    subs, _ = worker3
    event = default_catalogue().get(BIRTH, 2)
    assert event is not None
    codec = AvroCodec()
    fp = codec.register(event.schema)
    rng = random.Random(uid)
    forged_data, honest_data = birth(rng, dt.date.today()), birth(rng, dt.date.today())

    def envelope(name: str, subject: str) -> Envelope:
        return Envelope(
            id=f"{name}-{uid}",
            source="health",
            type=BIRTH,
            version=2,
            subject=subject,
            time=dt.datetime.now(dt.UTC),
        )

    forged = envelope("forged", forged_data["mother_id"])
    honest = envelope("honest", "")
    producer = Producer({"bootstrap.servers": bootstrap})
    for env, data in ((forged, forged_data), (honest, honest_data)):
        producer.produce(
            BIRTH_V2_TOPIC,
            codec.encode(fp, data),
            data["mother_id"].encode(),  # a clear ID as the key, as a careless producer might
            headers=env.to_headers(),  # type: ignore[arg-type]
        )
    assert producer.flush(30) == 0

    bus = Pseudonymizer(KeySettings())
    subject = bus.subject("certificate_no", honest_data["certificate_no"])
    wanted = delivery_id(subs["ps"], "health", honest.id)
    (got,) = read(bootstrap, subs["ps"], {wanted}).values()
    assert got.envelope.subject == bus.for_subscriber(subs["ps"], "subject", subject)
    keys = {
        msg.key()
        for msg in read_to_end(bootstrap, delivery_topic(subs["ps"]))
        if dict(msg.headers() or []).get("ce_id") == wanted.encode()
    }
    assert keys == {got.envelope.subject.encode()}
    assert wait_until(
        lambda: any(
            d.event_id == forged.id and d.reason == "envelope.subject_mismatch"
            for d in read_dead_letters(bootstrap)
        ),
        30,
    )
    ours = [r for r in read_audit(bootstrap) if r.event_id in (forged.id, honest.id)]
    assert {(r.event_id, r.kind) for r in ours} >= {
        (forged.id, "dead_letter"),
        (honest.id, "accepted"),
        (honest.id, "delivered"),
    }
    assert {r.subject for r in ours if r.event_id == honest.id} == {subject}
    assert all(r.subject == "" for r in ours if r.event_id == forged.id)
    for record in ours:
        text = record.to_json().decode()
        assert forged_data["mother_id"] not in text
        assert honest_data["mother_id"] not in text

    store = DisclosureStore(runtime.pg)
    store.init()
    store.apply(ours)
    report = store.report(
        subject_pseudonyms(bus, default_catalogue(), honest_data["certificate_no"])
    )
    assert {d.delivery_id for d in report} == {
        delivery_id(s, "health", honest.id) for s in subs.values()
    }


def test_a_running_worker_refuses_a_filter_on_fields_not_received_in_clear(
    bootstrap: str, uid: str, worker3: tuple[dict[str, str], dict[str, str]]
) -> None:
    """Written straight to the policy topic (past the admin API and `govbus policy
    validate`): a filter on health data the subscription is not granted would tell the
    subscriber which births were healthy. The worker refuses it; a filter on a field the
    subscription receives in clear, written alongside, works."""
    _, env = worker3
    common: dict[str, Any] = {
        "event_types": [BIRTH],
        "fields": {"certificate_no": "clear", "birth_region": "clear", "mother_id": "mask"},
        "legal_basis": "law",
        "purpose": "testing",
        "approval": APPROVAL,
    }
    peeking = {
        f"peek_{uid}": {"field": "health_status", "eq": "healthy"},
        f"masked_{uid}": {"field": "mother_id", "prefix": "1101"},
    }
    subs = [
        Subscription.model_validate({**common, "id": f"s-{who}", "subscriber": who, "filter": f})
        for who, f in {**peeking, f"ok_{uid}": {"field": "birth_region", "prefix": "11"}}.items()
    ]
    policy_store.write(bootstrap, env["GOVBUS_POLICY_TOPIC"], subs)
    rng = random.Random(uid)
    with Publisher("health") as pub:
        ids = []
        for _ in range(3):  # healthy births in Beijing to Beijing mothers: every filter matches
            ids.append(pub.publish(BIRTH, birth(rng, dt.date.today())).result(30).event_id)
            time.sleep(1)  # the worker applies the policy within a second or so
    # The last one reached the control subscription: the worker has applied the policy.
    last = delivery_id(f"ok_{uid}", "health", ids[-1])
    assert last in read(bootstrap, f"ok_{uid}", {last})
    time.sleep(3)
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    for who in peeking:
        assert delivery_topic(who) not in topics or topic_size(bootstrap, who) == 0, who


def test_a_10_mb_event_is_refused_at_the_door_not_lost_silently(bootstrap: str, uid: str) -> None:
    event = default_catalogue().get(BIRTH, 2)
    assert event is not None
    with Publisher("health") as pub:
        prepared = pub.encoder.prepare(BIRTH, birth(random.Random(uid), dt.date.today()))
        huge = replace(prepared, value=prepared.value + b"x" * 10_000_000)
        with pytest.raises(PublishError) as refused:
            pub.send(huge).result(30)
    assert refused.value.reason == "kafka.too_large"


def test_revocation_takes_effect_in_a_running_worker_within_5s(
    bootstrap: str,
    uid: str,
    worker3: tuple[dict[str, str], dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    subs, env = worker3
    topic = env["GOVBUS_POLICY_TOPIC"]
    current = {s.id: s for s in policy_store.read(bootstrap, topic).subscriptions}
    rng = random.Random(uid)
    sent: list[tuple[float, str]] = []
    with Publisher("health") as pub:
        pub.publish(BIRTH, birth(rng, dt.date.today())).result(timeout=30)  # warm path
        policy_store.write(
            bootstrap, topic, [policy_store.revoked(current[f"mi-{uid}"], "purpose fulfilled")]
        )
        revoked_at = time.monotonic()
        while time.monotonic() - revoked_at < 8:
            result = pub.publish(BIRTH, birth(rng, dt.date.today())).result(timeout=30)
            sent.append((time.monotonic() - revoked_at, result.event_id))
            time.sleep(0.1)
    # Everything sent still reaches the subscription that was not revoked...
    ps_ids = {delivery_id(subs["ps"], "health", e) for _, e in sent}
    assert len(read(bootstrap, subs["ps"], ps_ids)) == len(sent)
    # ...and the revoked one stops receiving.
    delivered_mi = {r.envelope.id for r in read_all(bootstrap, subs["mi"])}
    after = [(t, delivery_id(subs["mi"], "health", e) in delivered_mi) for t, e in sent]
    last_delivered = max((t for t, got in after if got), default=0.0)
    assert all(not got for t, got in after if t > 5.0), after
    assert any(not got for _, got in after)
    with capsys.disabled():
        print(
            f"\n[measured] revocation effective {last_delivered:.2f}s after the policy write "
            f"was acknowledged ({len(sent)} events sent over 8s)"
        )


def test_sigkilled_worker_restarts_with_every_input_delivered_exactly_once_or_dead_lettered(
    bootstrap: str,
    uid: str,
    state_dir: Path,
    worker_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    subs, _, worker = start_worker3(
        bootstrap, uid, state_dir, {**worker_env, "GOVBUS_BATCH_SIZE": "20"}, tmp_path
    )
    total, bad_every = 1500, 50
    rng = random.Random(uid)
    published: list[str] = []
    garbage: list[str] = []
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})

    def publish_all() -> None:
        with Publisher("health") as pub:
            for i in range(total):
                if i % bad_every == 0:
                    env_ = Envelope(
                        id=f"junk-{uid}-{i}",
                        source="health",
                        type=BIRTH,
                        version=2,
                        subject="s",
                        time=dt.datetime.now(dt.UTC),
                    )
                    producer.produce(
                        BIRTH_V2_TOPIC, b"junk payload, not avro", b"k", headers=env_.to_headers()
                    )
                    garbage.append(env_.id)
                else:
                    published.append(
                        pub.publish(BIRTH, birth(rng, dt.date.today())).result(30).event_id
                    )
        producer.flush(30)

    publisher = threading.Thread(target=publish_all)
    publisher.start()
    try:
        # Kill the worker mid-stream: once deliveries are flowing, before the publisher ends.
        seen: list[int] = [0]

        def flowing() -> bool:
            seen[0] = len(read_all(bootstrap, subs["ps"], settle_s=0.5))
            return seen[0] >= 100

        assert wait_until(flowing, 90, 0.2)
        assert worker.kill()
        published_at_kill = len(published)
        time.sleep(1)
        worker.start(timeout_s=120)
        publisher.join(timeout=300)
        ids = {delivery_id(subs["ps"], "health", e) for e in published}
        assert len(read(bootstrap, subs["ps"], ids, timeout_s=180)) == len(ids)
        for key in ("ps", "cdc", "mi"):
            counts = Counter(r.envelope.id for r in read_all(bootstrap, subs[key]))
            expected = {delivery_id(subs[key], "health", e) for e in published}
            # A new app id also processes older events on the shared topics, so the topic may
            # hold more than this test published: none of ours may be missing, none doubled.
            assert expected - set(counts) == set(), f"{key}: lost {len(expected - set(counts))}"
            doubled = [k for k, n in counts.items() if n > 1]
            assert doubled == [], f"{key}: {len(doubled)} double deliveries"
        letters = Counter(
            d.event_id for d in read_dead_letters(bootstrap) if d.event_id in set(garbage)
        )
        # Each junk input dead-lettered exactly once by this app (other apps may share the DLQ).
        assert set(letters) == set(garbage)
        assert max(letters.values()) == 1
        with capsys.disabled():
            print(
                f"\n[measured] SIGKILL with ~{seen[0]} deliveries in the topic (history included) "
                f"and {published_at_kill} of "
                f"{total} inputs published: "
                f"{len(published)} delivered exactly once to 3 subscribers, "
                f"{len(garbage)} dead-lettered exactly once"
            )
    finally:
        publisher.join(timeout=60)
        worker.stop()
