"""Sample facts for the demo, with valid identifiers (check digits computed, not typed)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from govbus.schemas.identifiers import citizen_id_check_char


def citizen_id(region: str, born: dt.date, sequence: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + citizen_id_check_char(first17)


def birth(rng: random.Random, today: dt.date) -> dict[str, Any]:
    born = today - dt.timedelta(days=1)
    return {
        "certificate_no": f"Q{rng.randrange(10**9, 10**10)}",
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
        "guardian_phone": f"139{rng.randrange(10**7, 10**8)}",
    }
