"""Masking operators (GB/T 35273, GB/T 37964 techniques). Pure functions, no IO. The stream
worker applies them to deliveries; the console previews a request with the same functions.

Display masks keep what the conventions keep (surname, first 6 + last 4 of an ID...),
generalisation coarsens, pseudonyms are keyed per subscriber (handed in).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

COMPOUND_SURNAMES = frozenset(
    {
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "令狐",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "端木",
        "西门",
        "南宫",
        "独孤",
        "百里",
        "呼延",
        "澹台",
    }
)
_DISTRICT_MARKERS = ("区", "县", "旗")
AGE_BANDS = (
    (0, 2, "0-2"),
    (3, 6, "3-6"),
    (7, 13, "7-13"),
    (14, 17, "14-17"),
    (18, 34, "18-34"),
    (35, 59, "35-59"),
    (60, None, "60+"),
)


def mask_name(name: str) -> str:
    """张三 -> 张*, 欧阳娜娜 -> 欧阳**; names in Latin script keep their first letter."""
    if not name:
        return name
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:keep] + "*" * max(len(name) - keep, 1)


def mask_citizen_id(value: str) -> str:
    """First 6 + last 4 (shows region and the gender digit; see DOMAIN notes)."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_mobile(value: str) -> str:
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_bank_card(value: str) -> str:
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_credit_code(value: str) -> str:
    """Keep authority, category and region (first 8), hide the organisation code."""
    if len(value) < 10:
        return "*" * len(value)
    return value[:8] + "*" * (len(value) - 8)


def mask_tail(value: str) -> str:
    """Last 4 only (certificate numbers)."""
    return "*" * max(len(value) - 4, 0) + value[-4:]


def address_to_district(address: str) -> str:
    """北京市海淀区中关村大街1号 -> 北京市海淀区 (cut after the first district/county)."""
    cut = min((i for i in (address.find(m) for m in _DISTRICT_MARKERS) if i >= 0), default=-1)
    if cut < 0:
        cut = address.find("市")
    return address[: cut + 1] if cut >= 0 else address[:3]


def mask_address(address: str) -> str:
    return address_to_district(address) + "****"


def mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not at or not local:
        return "*" * len(value)
    return local[0] + "**@" + domain


def region_to_prefecture(code: str) -> str:
    return code[:4] + "00" if len(code) == 6 else code


def generalize_year(value: dt.date) -> str:
    return f"{value.year:04d}"


def generalize_year_month(value: dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}"


def age_band(born: dt.date, as_of: dt.date) -> str:
    """Age at the event's time (not 'today', so a redelivery masks identically)."""
    age = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
    for low, high, label in AGE_BANDS:
        if low <= age and (high is None or age <= high):
            return label
    return "unknown"


DISPLAY_MASKS: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "citizen_id": mask_citizen_id,
    "mobile": mask_mobile,
    "bank_card": mask_bank_card,
    "address": mask_address,
    "email": mask_email,
    "credit_code": mask_credit_code,
    "certificate_no": mask_tail,
}


def apply_rule(
    rule: str,
    value: Any,
    *,
    fmt: str | None,
    as_of: dt.date,
    pseudonymize: Callable[[str, str], str],
) -> Any:
    """Apply one masking rule to one value; None stays None.

    ``pseudonymize(kind, value)`` is the subscriber's keyed pseudonym function.
    """
    if value is None or rule == "clear":
        return value
    if rule == "redact":
        return None
    if rule == "pseudonym":
        return pseudonymize(fmt or "value", str(value))
    if rule == "mask":
        return DISPLAY_MASKS[fmt or ""](str(value))
    if rule == "generalize.year":
        return generalize_year(value)
    if rule == "generalize.year_month":
        return generalize_year_month(value)
    if rule == "generalize.age_band":
        return age_band(value, as_of)
    if rule == "generalize.district":
        return region_to_prefecture(value) if fmt == "region_code" else address_to_district(value)
    raise ValueError(f"unknown masking rule {rule}")
