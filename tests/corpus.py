"""The bad-input corpus: what a broken, careless or hostile producer can put on an event
topic, each with the dead-letter reason the bus must give. Also a few inputs that look odd
but are legitimate data (they must be delivered, not rejected).

Used by the unit test (every case through the pipeline's logic) and by the integration test
(every case through a real worker on the real broker, which must survive them all).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from govbus.adapters.publisher import EventEncoder
from govbus.config import KeySettings
from govbus.pseudonym import Pseudonymizer
from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.identifiers import citizen_id_check_char
from govbus_devtools.demo.sample_data import birth, wrong_check_char

BIRTH = "gov.health.birth_registered"
BIRTH_TOPIC = "govbus.events.health.birth_registered.v2"
DEATH = "gov.health.death_registered"


@dataclass(frozen=True)
class Case:
    name: str
    reason: str | None  # the dead-letter reason; None: legitimate, must be delivered
    topic: str
    value: bytes | None
    headers: list[tuple[str, bytes]]
    key: bytes = b"k"
    data: dict[str, Any] = field(default_factory=dict)  # the facts, for legitimate cases


# A valid citizen ID whose check character is X (GB 11643 example).
X_ID = "11010519491231002X"


def full_width(digits: str) -> str:
    """ASCII digits as full-width ones (U+FF10...): int() reads them, the bus must not."""
    return in_script(digits, 0xFF10)


def in_script(digits: str, zero: int) -> str:
    """ASCII digits written in the decimal digits (Unicode Nd) that start at ``zero``:
    0x0660 Arabic-Indic, 0x0966 Devanagari, 0xFF10 full-width..."""
    return "".join(chr(zero + int(c)) if c in "0123456789" else c for c in digits)


def non_canonical_forms(value: str) -> dict[str, str]:
    """A valid identifier in forms that differ from it only in writing: each must be
    refused wherever it comes in."""
    return {
        "trailing-newline": value + "\n",
        "trailing-space": value + " ",
        "leading-space": " " + value,
        "ideographic-space": value + "\u3000",
        "full-width-digits": value[:2] + full_width(value[2:]),
        "arabic-indic-digits": value[:2] + in_script(value[2:], 0x0660),
        "devanagari-digits": in_script(value, 0x0966),
    }


def _headers(headers: list[tuple[str, bytes]], **override: bytes | None) -> list[tuple[str, bytes]]:
    """Replace, add (or with None drop) some headers; keys use underscores (ce_id...)."""
    out = [(k, override[k]) if k in override else (k, v) for k, v in headers]
    present = {k for k, _ in headers}
    out += [(k, v) for k, v in override.items() if k not in present]
    return [(k, v) for k, v in out if v is not None]


def cases(uid: str, now: dt.datetime | None = None) -> list[Case]:
    now = now or dt.datetime.now(dt.UTC)
    catalogue = default_catalogue()
    encoder = EventEncoder("health", catalogue)
    subjects = Pseudonymizer(KeySettings())  # the bus's keys, as a forger might guess them
    codec = AvroCodec()
    v2 = catalogue.get(BIRTH, 2)
    death = catalogue.latest(DEATH)
    assert v2 is not None
    assert death is not None
    fp = codec.register(v2.schema)
    codec.register(death.schema)
    rng = random.Random(uid)

    def event(name: str, **data: Any) -> tuple[dict[str, Any], list[tuple[str, bytes]], bytes]:
        facts = {**birth(rng, now.date()), **data}
        prepared = encoder.prepare(BIRTH, facts, event_id=f"{name}-{uid}", time=now)
        return facts, prepared.headers, prepared.value

    def raw(name: str, value: bytes | None, reason: str, **override: bytes | None) -> Case:
        _, headers, _ = event(name)
        return Case(name, reason, BIRTH_TOPIC, value, _headers(headers, **override))

    def bad_record(name: str, reason: str, **data: Any) -> Case:
        facts, headers, _ = event(name)
        return Case(name, reason, BIRTH_TOPIC, codec.encode(fp, {**facts, **data}), headers)

    good_facts, good_headers, good = event("template")
    body = good[10:]
    death_value = codec.encode(
        codec.register(death.schema),
        {
            "certificate_no": "D1234567890",
            "citizen_id": "11010519491231002X",
            "name": "张三",
            "date_of_death": now.date(),
            "place_region": "110105",
            "cause_icd10": "I21.9",
            "informant_phone": None,
        },
    )
    out = [
        # -- payload bytes
        raw("tombstone", None, "payload.empty"),
        raw("garbage", b"this is not an avro payload", "codec.magic"),
        raw("truncated-header", good[:5], "codec.truncated"),
        raw("truncated-body", good[: 10 + len(body) // 2], "codec.payload"),
        raw("trailing-bytes", good + b"\x00\x01", "codec.trailing"),
        raw(
            "wrong-fingerprint",
            good[:2] + b"\xde\xad\xbe\xef\x00\x11\x22\x33" + body,
            "codec.schema_mismatch",
        ),
        raw("other-types-payload", death_value, "codec.schema_mismatch"),
        raw("too-large", good + b"x" * 600_000, "payload.too_large"),
        # -- envelope headers
        raw("unknown-type", good, "catalogue.unknown_type", ce_type=b"gov.health.shoes.v1"),
        raw(
            "unknown-version",
            good,
            "catalogue.unknown_type",
            ce_type=b"gov.health.birth_registered.v9",
        ),
        raw(
            "wrong-topic-type",
            good,
            "envelope.topic_mismatch",
            ce_type=b"gov.health.death_registered.v1",
        ),
        raw("wrong-owner", good, "policy.not_owner", ce_source=b"tax"),
        raw("no-source", good, "envelope.missing", ce_source=None),
        raw("bad-specversion", good, "envelope.specversion", ce_specversion=b"0.3"),
        raw("future-time", good, "envelope.time", ce_time=b"2999-01-01T00:00:00Z"),
        raw("ancient-time", good, "envelope.time", ce_time=b"1970-01-01T00:00:00Z"),
        raw("naive-time", good, "envelope.time", ce_time=b"2026-01-01T00:00:00"),
        raw("crlf-in-id", good, "envelope.unsafe", ce_id=b"abc\r\nX-Injected: 1"),
        raw("newline-after-id", good, "envelope.unsafe", ce_id=b"newline-after-id\n"),
        raw("space-in-source", good, "envelope.unsafe", ce_source=b"health evil"),
        raw("non-utf8-header", good, "envelope.encoding", ce_id=b"\xff\xfe\xfd"),
        raw("huge-header", good, "envelope.header_size", ce_subject=b"s" * 5000),
        # -- the subject is the bus's: a publisher may leave it out, never choose it
        raw(
            "clear-id-as-subject",
            good,
            "envelope.subject_mismatch",
            ce_subject=good_facts["certificate_no"].encode(),
        ),
        raw(
            "someone-elses-subject",
            good,
            "envelope.subject_mismatch",
            ce_subject=subjects.subject("certificate_no", "Q0000000001").encode(),
        ),
        Case(
            "duplicate-header",
            "envelope.duplicate",
            BIRTH_TOPIC,
            good,
            [*good_headers, ("ce_id", b"again")],
        ),
        # -- the facts
        bad_record(
            "bad-mother-id",
            "identifier.citizen_id",
            mother_id=wrong_check_char(good_facts["mother_id"]),
        ),
        bad_record(  # the check character is right; 30 February is not a date
            "id-with-impossible-date",
            "identifier.citizen_id",
            mother_id="11010519930230123" + citizen_id_check_char("11010519930230123"),
        ),
        # Valid identifiers in a non-canonical form: another person to every hash and index.
        bad_record(
            "mother-id-trailing-newline",
            "identifier.citizen_id",
            mother_id=good_facts["mother_id"] + "\n",
        ),
        bad_record(
            "mother-id-full-width-digits",
            "identifier.citizen_id",
            mother_id=(
                good_facts["mother_id"][:2]
                + full_width(good_facts["mother_id"][2:17])
                + good_facts["mother_id"][17]
            ),
        ),
        bad_record(
            "mother-id-lower-case-x", "identifier.citizen_id", mother_id=X_ID.replace("X", "x")
        ),
        bad_record(
            "certificate-no-ideographic-space",
            "identifier.certificate_no",
            certificate_no=good_facts["certificate_no"] + "\u3000",
        ),
        bad_record("region-code-nbsp", "identifier.region_code", birth_region="\xa0110108"),
        bad_record("bad-region", "identifier.region_code", birth_region="11010"),
        bad_record("bad-mobile", "identifier.mobile", guardian_phone="12345"),
        bad_record("born-1850", "field.date", birth_date=dt.date(1850, 1, 1)),
        bad_record("born-in-3000", "field.date", birth_date=dt.date(3000, 1, 1)),
        bad_record("nul-in-name", "field.text", baby_name="王\x00明"),
        bad_record("bidi-override-in-name", "field.text", baby_name="王\u202e明小"),
        bad_record("escape-sequence-in-hospital", "field.text", hospital="医院\x1b[31m"),
        bad_record("novel-sized-name", "field.text", baby_name="王" * 10_001),
    ]
    # Legitimate, if unusual: these are names, not attacks.
    for name, baby_name in (
        ("cjk-extension-b", "𠮷田"),
        ("middle-dot-name", "买买提·艾力"),
        ("emoji-free-text-ok", "王👶"),
    ):
        facts, headers, value = event(name, baby_name=baby_name)
        out.append(Case(name, None, BIRTH_TOPIC, value, headers, data=facts))
    return out
