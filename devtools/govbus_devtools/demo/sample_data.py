"""Sample facts for the demo, with valid identifiers (check digits computed, not typed).

Each function takes a seeded ``random.Random`` so a run's facts are reproducible and two
runs do not collide on natural keys (certificate numbers, credit codes, licence ids).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from govbus.schemas.identifiers import USCC_ALPHABET, citizen_id_check_char, mod37_36_check_char
from govbus.schemas.identifiers import uscc_check_char as _uscc_check_char


def citizen_id(region: str, born: dt.date, sequence: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + citizen_id_check_char(first17)


def credit_code(rng: random.Random, region: str) -> str:
    """A unified social credit code: market regulation (9), enterprise (1), region, org code."""
    org = "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    first17 = f"91{region}{org}"
    return first17 + _uscc_check_char(first17)


def licence_id(type_code: str, issuer: str, serial: str, version: str = "1") -> str:
    """GB/T 36904: 1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>."""
    parts = ["1", "2", "156", "3005", "2", type_code, issuer, serial, version]
    return ".".join([*parts, mod37_36_check_char("".join(parts))])


def certificate_no(rng: random.Random, prefix: str) -> str:
    return f"{prefix}{rng.randrange(10**9, 10**10)}"


def mobile(rng: random.Random) -> str:
    return f"139{rng.randrange(10**7, 10**8)}"


def birth(rng: random.Random, today: dt.date) -> dict[str, Any]:
    born = today - dt.timedelta(days=1)
    return {
        "certificate_no": certificate_no(rng, "Q"),
        "baby_name": "王小明",
        "sex": "MALE",
        "birth_date": born,
        "birth_time": "08:42",
        "birth_region": "110108",
        "hospital": "北京大学第三医院",
        "mother_name": "李娜",
        "mother_id": citizen_id("110105", dt.date(1992, 3, 14), 2 * rng.randrange(1, 499)),
        "father_name": "王强",
        "father_id": citizen_id("110108", dt.date(1990, 11, 2), 2 * rng.randrange(1, 499) + 1),
        "weight_g": 3350,
        "gestation_weeks": 39,
        "health_status": "healthy",
        "guardian_phone": mobile(rng),
    }


def household_registered(rng: random.Random, born: dict[str, Any]) -> dict[str, Any]:
    """Public security registers the newborn and assigns the citizen ID."""
    return {
        "citizen_id": citizen_id(
            born["birth_region"], born["birth_date"], 2 * rng.randrange(0, 499) + 1
        ),
        "name": born["baby_name"],
        "sex": born["sex"],
        "birth_date": born["birth_date"],
        "region_code": born["birth_region"],
        "address": "北京市海淀区中关村大街27号",
        "guardian_id": born["father_id"],
        "guardian_phone": born["guardian_phone"],
        "birth_certificate_no": born["certificate_no"],
    }


def death(rng: random.Random, today: dt.date) -> dict[str, Any]:
    return {
        "certificate_no": certificate_no(rng, "D"),
        "citizen_id": citizen_id("110102", dt.date(1938, 5, 20), 2 * rng.randrange(1, 499) + 1),
        "name": "张建国",
        "date_of_death": today - dt.timedelta(days=2),
        "place_region": "110102",
        "cause_icd10": "I21.9",
        "informant_phone": mobile(rng),
    }


def household_cancelled(died: dict[str, Any], today: dt.date) -> dict[str, Any]:
    return {
        "citizen_id": died["citizen_id"],
        "name": died["name"],
        "date_of_death": died["date_of_death"],
        "cancellation_date": today,
        "region_code": died["place_region"],
    }


def cremation(died: dict[str, Any], today: dt.date) -> dict[str, Any]:
    return {
        "citizen_id": died["citizen_id"],
        "cremation_date": today,
        "funeral_home_code": "BJ-BBS-01",
        "region_code": died["place_region"],
    }


def enterprise(rng: random.Random) -> dict[str, Any]:
    return {
        "credit_code": credit_code(rng, "110108"),
        "name": "北京数联科技有限公司",
        "entity_type": "limited_liability_company",
        "address": "北京市海淀区学院路35号",
        "region_code": "110108",
        "business_scope": "软件开发; 信息技术咨询服务",
        "legal_rep_name": "陈思远",
        "legal_rep_id": citizen_id("110108", dt.date(1985, 7, 9), 2 * rng.randrange(1, 499) + 1),
        "contact_name": "赵敏",
        "contact_phone": mobile(rng),
        "registered_capital_cny": 1_000_000,
    }


def licence_issued(
    rng: random.Random,
    company: dict[str, Any],
    today: dt.date,
    licence_type: str = "business_licence",
    type_code: str = "11100000",
) -> dict[str, Any]:
    serial = f"{rng.randrange(10**8, 10**9)}"
    return {
        "licence_id": licence_id(type_code, "110108", serial),
        "licence_type": licence_type,
        "holder_code": company["credit_code"],
        "holder_name": company["name"],
        "valid_from": today,
        "valid_until": None,
    }


def licence_revoked(issued: dict[str, Any], today: dt.date) -> dict[str, Any]:
    return {
        "licence_id": issued["licence_id"],
        "holder_code": issued["holder_code"],
        "revoked_on": today,
        "reason": "registration address could not be reached (sample)",
    }


def wrong_check_char(identifier: str) -> str:
    """The identifier with its last (check) character changed: a typing mistake."""
    return identifier[:-1] + ("0" if identifier[-1] != "0" else "1")
