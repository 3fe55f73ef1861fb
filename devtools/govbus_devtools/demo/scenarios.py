"""The seed scenarios (the domain's "get one thing done" cases) as a plan: which department
publishes which fact, through which adapter, in what order. Pure data; govbus_devtools.demo.run
carries it out."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from govbus_devtools.demo import sample_data as sample

# outbox: the civil registry's PostgreSQL outbox and relay; sdk: the Python publisher SDK;
# http: POST /v1/publish on the gateway; legacy: a system writing Kafka without the SDK (so
# nothing checked its data before the bus did).
Channel = Literal["outbox", "sdk", "http", "legacy"]
Expect = Literal["delivered", "dead_letter"]


@dataclass(frozen=True)
class Step:
    key: str  # unique in the plan, e.g. "death.correction"
    scenario: str
    title: str
    channel: Channel
    source: str
    event_type: str
    data: dict[str, Any]
    correlation_id: str
    corrects: str | None = None  # the key of the step whose event this one corrects
    expect: Expect = "delivered"
    retries: int = 0  # publish again with the same idempotency key: the bus counts duplicates


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    steps: list[Step] = field(default_factory=list)


def plan(rng: random.Random, today: dt.date) -> list[Scenario]:
    def case() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128)))

    born = sample.birth(rng, today)
    # Born in Shanghai: the Beijing childcare subsidy's eligibility filter must not match.
    born_elsewhere = {
        **sample.birth(rng, today),
        "baby_name": "陈小雨",
        "sex": "FEMALE",
        "birth_region": "310104",
        "hospital": "复旦大学附属妇产科医院",
    }
    # Born in Beijing to parents from Jiangsu (the mother's ID was issued in Nanjing, 320102):
    # A's agreement with province B sends it across, so the family registers the child at
    # home without a trip back to Beijing (跨省通办).
    born_to_jiangsu_parents = {
        **sample.birth(rng, today),
        "baby_name": "周子墨",
        "mother_name": "孙悦",
        "mother_id": sample.citizen_id("320102", dt.date(1994, 6, 18), 2 * rng.randrange(1, 499)),
        "father_name": "周航",
        "father_id": sample.citizen_id(
            "320104", dt.date(1993, 2, 9), 2 * rng.randrange(1, 499) + 1
        ),
    }
    newborn = case()
    died = sample.death(rng, today)
    after_death = case()
    company = sample.enterprise(rng)
    startup = case()
    licence = sample.licence_issued(rng, company, today)
    food_licence = sample.licence_issued(rng, company, today, "food_operating_licence", "12100000")
    licences = case()
    # The registry's first record had the date of death one day late; the doctor fixes it.
    fixed_death = {**died, "date_of_death": died["date_of_death"] - dt.timedelta(days=1)}
    # A second death typed into a legacy system: the last digit of the ID is wrong.
    typo = sample.death(rng, today)
    typo["citizen_id"] = sample.wrong_check_char(typo["citizen_id"])
    return [
        Scenario(
            "newborn",
            "Newborn: one application, five departments (出生一件事)",
            [
                Step(
                    "newborn.birth",
                    "newborn",
                    "birth certified at the hospital",
                    "outbox",
                    "health",
                    "gov.health.birth_registered",
                    born,
                    newborn,
                ),
                Step(
                    "newborn.elsewhere",
                    "newborn",
                    "another birth, in Shanghai (not eligible for Beijing's subsidy)",
                    "outbox",
                    "health",
                    "gov.health.birth_registered",
                    born_elsewhere,
                    case(),
                ),
                Step(
                    "newborn.cross_province",
                    "newborn",
                    "a birth in Beijing to parents registered in Jiangsu (province B's bus)",
                    "outbox",
                    "health",
                    "gov.health.birth_registered",
                    born_to_jiangsu_parents,
                    case(),
                ),
                Step(
                    "newborn.household",
                    "newborn",
                    "newborn registered; citizen ID assigned",
                    "sdk",
                    "public_security",
                    "gov.public_security.household_registered",
                    sample.household_registered(rng, born),
                    newborn,
                ),
            ],
        ),
        Scenario(
            "after_death",
            "After death: pension, registration and insurance end without visits (身后一件事)",
            [
                Step(
                    "death.certified",
                    "after_death",
                    "death certified",
                    "outbox",
                    "health",
                    "gov.health.death_registered",
                    died,
                    after_death,
                ),
                Step(
                    "death.household",
                    "after_death",
                    "household registration cancelled",
                    "sdk",
                    "public_security",
                    "gov.public_security.household_cancelled",
                    sample.household_cancelled(died, today),
                    after_death,
                ),
                Step(
                    "death.cremation",
                    "after_death",
                    "cremation recorded",
                    "sdk",
                    "civil_affairs",
                    "gov.civil_affairs.cremation_recorded",
                    sample.cremation(died, today),
                    after_death,
                ),
                Step(
                    "death.correction",
                    "after_death",
                    "date of death corrected",
                    "outbox",
                    "health",
                    "gov.health.death_registered",
                    fixed_death,
                    after_death,
                    corrects="death.certified",
                ),
                Step(
                    "death.bad_id",
                    "after_death",
                    "death with a mistyped ID number (legacy system)",
                    "legacy",
                    "health",
                    "gov.health.death_registered",
                    typo,
                    after_death,
                    expect="dead_letter",
                ),
            ],
        ),
        Scenario(
            "business",
            "Business start-up: one registration, five departments (企业开办)",
            [
                Step(
                    "business.registered",
                    "business",
                    "enterprise registered (client retried)",
                    "http",
                    "market_regulation",
                    "gov.market_regulation.enterprise_registered",
                    company,
                    startup,
                    retries=1,
                ),
            ],
        ),
        Scenario(
            "licence",
            "Electronic licences: issued, one revoked, checked by relying departments (电子证照)",
            [
                Step(
                    "licence.issued",
                    "licence",
                    "business licence issued",
                    "http",
                    "market_regulation",
                    "gov.market_regulation.licence_issued",
                    licence,
                    licences,
                ),
                Step(
                    "licence.food",
                    "licence",
                    "food operating licence issued (stays valid)",
                    "http",
                    "market_regulation",
                    "gov.market_regulation.licence_issued",
                    food_licence,
                    licences,
                ),
                Step(
                    "licence.revoked",
                    "licence",
                    "business licence revoked",
                    "http",
                    "market_regulation",
                    "gov.market_regulation.licence_revoked",
                    sample.licence_revoked(licence, today),
                    licences,
                ),
            ],
        ),
    ]


def steps(scenarios: list[Scenario]) -> list[Step]:
    return [s for sc in scenarios for s in sc.steps]
