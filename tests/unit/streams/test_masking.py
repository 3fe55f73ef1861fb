from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govbus.masking import (
    address_to_district,
    age_band,
    apply_rule,
    generalize_year_month,
    mask_address,
    mask_bank_card,
    mask_citizen_id,
    mask_email,
    mask_mobile,
    mask_name,
    region_to_prefecture,
)


@pytest.mark.parametrize(
    ("name", "masked"),
    [("张三", "张*"), ("王小明", "王**"), ("欧阳娜娜", "欧阳**"), ("欧阳", "欧*"), ("Li", "L*")],
)
def test_name_keeps_surname(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_conventional_display_masks() -> None:
    assert mask_citizen_id("110105194912310123") == "110105********0123"
    assert mask_mobile("13812341234") == "138****1234"
    assert mask_bank_card("6222021234567890123") == "622202*********0123"
    assert mask_address("北京市海淀区中关村大街1号") == "北京市海淀区****"
    assert mask_email("gov@163.com") == "g**@163.com"
    assert region_to_prefecture("110108") == "110100"
    assert generalize_year_month(dt.date(2024, 5, 17)) == "2024-05"


@given(st.text(alphabet="0123456789", min_size=18, max_size=18))
def test_citizen_id_mask_hides_birth_date_and_sequence(value: str) -> None:
    masked = mask_citizen_id(value)
    assert len(masked) == len(value)
    assert masked[6:14] == "********"
    assert masked[:6] == value[:6]
    assert masked[-4:] == value[-4:]


@given(st.text(min_size=1, max_size=40))
def test_name_mask_never_reveals_more_than_the_surname(name: str) -> None:
    masked = mask_name(name)
    kept = len(masked.rstrip("*"))
    assert kept <= 2
    assert masked[:kept] == name[:kept]


@given(st.text(min_size=0, max_size=60))
def test_address_is_a_prefix_cut(address: str) -> None:
    assert address.startswith(address_to_district(address))


@given(st.dates(dt.date(1900, 1, 1), dt.date(2030, 1, 1)), st.dates(dt.date(1900, 1, 1)))
def test_age_band_is_total(born: dt.date, as_of: dt.date) -> None:
    band = age_band(born, as_of)
    assert band == "unknown" if as_of < born else band != "unknown"


def pseudo(kind: str, value: str) -> str:
    return f"p({kind}:{value})"


@pytest.mark.parametrize(
    ("rule", "value", "fmt", "expected"),
    [
        ("clear", "张三", "name", "张三"),
        ("redact", "张三", "name", None),
        ("mask", "张三", "name", "张*"),
        ("pseudonym", "110105194912310123", "citizen_id", "p(citizen_id:110105194912310123)"),
        ("generalize.year", dt.date(2024, 5, 17), "date", "2024"),
        ("generalize.year_month", dt.date(2024, 5, 17), "date", "2024-05"),
        ("generalize.age_band", dt.date(2020, 5, 17), "date", "3-6"),
        ("generalize.district", "110108", "region_code", "110100"),
        ("mask", None, "name", None),
    ],
)
def test_apply_rule(rule: str, value: object, fmt: str, expected: object) -> None:
    as_of = dt.date(2026, 1, 1)
    assert apply_rule(rule, value, fmt=fmt, as_of=as_of, pseudonymize=pseudo) == expected


def test_unknown_rule_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown masking rule"):
        apply_rule("scramble", "x", fmt=None, as_of=dt.date(2026, 1, 1), pseudonymize=pseudo)
