from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govbus.schemas.identifiers import (
    USCC_ALPHABET,
    check_certificate_no,
    check_citizen_id,
    check_credit_code,
    check_licence_id,
    check_mobile,
    check_region_code,
    citizen_id_check_char,
    mod37_36_check_char,
    uscc_check_char,
)

REGIONS = ["110105", "310101", "440305", "650102", "820000"]


@pytest.mark.parametrize("value", ["11010519491231002X", "110105199203141465"])
def test_known_good_citizen_ids(value: str) -> None:
    assert check_citizen_id(value) is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491231002x", "17 digits"),
        ("1101051949123100", "17 digits"),
        ("110105194902300021", "not a date"),
        ("990105194912310021", "region"),
        ("110105189912310021", "out of range"),
        ("110105" + "2999" + "0101" + "0011", "out of range"),
    ],
)
def test_known_bad_citizen_ids(value: str, why: str) -> None:
    problem = check_citizen_id(value)
    assert problem is not None
    assert why in problem


@given(
    region=st.sampled_from(REGIONS),
    born=st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31)),
    seq=st.integers(0, 999),
)
def test_generated_citizen_ids_are_valid_and_any_digit_change_is_caught(
    region: str, born: dt.date, seq: int
) -> None:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    good = first17 + citizen_id_check_char(first17)
    assert check_citizen_id(good) is None
    # MOD 11-2 detects every single-digit substitution.
    for pos in range(17):
        digit = str((int(good[pos]) + 1) % 10)
        bad = good[:pos] + digit + good[pos + 1 :]
        assert check_citizen_id(bad) is not None


@pytest.mark.parametrize("value", ["91350100M000100Y43", "9144030071526726XG"])
def test_known_good_credit_codes(value: str) -> None:
    assert check_credit_code(value) is None


@pytest.mark.parametrize(
    "value", ["91350100M000100Y44", "9144030071526726XI", "91350100M000100Y4", ""]
)
def test_known_bad_credit_codes(value: str) -> None:
    assert check_credit_code(value) is not None


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17), st.integers(0, 16))
def test_credit_code_check_catches_single_substitutions(first17: str, pos: int) -> None:
    good = first17 + uscc_check_char(first17)
    assert check_credit_code(good) is None
    replacement = USCC_ALPHABET[(USCC_ALPHABET.index(good[pos]) + 1) % 31]
    assert check_credit_code(good[:pos] + replacement + good[pos + 1 :]) is not None


def test_region_codes() -> None:
    assert check_region_code("110105") is None
    assert check_region_code("990105") is not None
    assert check_region_code("11010") is not None


@pytest.mark.parametrize(
    ("value", "ok"), [("13812341234", True), ("12812341234", False), ("1381234123", False)]
)
def test_mobile(value: str, ok: bool) -> None:
    assert (check_mobile(value) is None) is ok


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=30))
def test_mod37_36_detects_single_substitution(payload: str) -> None:
    check = mod37_36_check_char(payload)
    mutated = ("1" if payload[0] != "1" else "2") + payload[1:]
    assert mod37_36_check_char(mutated) != check


def test_licence_identifier_round_trip() -> None:
    body = "1.2.156.3005.2.11100000000013127D001.91350100M000100Y43.00001.001"
    good = body + "." + mod37_36_check_char(body.replace(".", ""))
    assert check_licence_id(good) is None
    wrong = "0" if good[-1] != "0" else "1"
    assert check_licence_id(good[:-1] + wrong) is not None
    assert check_licence_id("1.2.156.9999.2.X") is not None


# ----------------------------------------------------------------- canonical form only
# A value that differs from a valid identifier only in form (a trailing newline, a
# full-width digit, a lower-case x) must be refused: accepted, it would be stored, masked
# and pseudonymised as another person and never show in the real one's disclosure report.

WHITESPACE = [" ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\xa0", "\u2028", "\u3000", "\ufeff"]
_LICENCE_BODY = "1.2.156.3005.2.11100000000013127D001.91350100M000100Y43.00001.001"


def _valid_citizen_id(region: str, born: dt.date, seq: int) -> str:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + citizen_id_check_char(first17)


CANONICAL = {
    "citizen_id": (check_citizen_id, _valid_citizen_id("110105", dt.date(1949, 12, 31), 2)),
    "credit_code": (check_credit_code, "91350100M000100Y43"),
    "region_code": (check_region_code, "110105"),
    "mobile": (check_mobile, "13812341234"),
    "certificate_no": (check_certificate_no, "B2026000123"),
    "licence_id": (
        check_licence_id,
        _LICENCE_BODY + "." + mod37_36_check_char(_LICENCE_BODY.replace(".", "")),
    ),
}
# Decimal digits of every script (Unicode category Nd) other than ASCII: int() reads them.
unicode_digits = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


def _same_value(digit: str, script: str) -> str:
    """``digit`` (ASCII) written in the script of ``script`` (an Nd character): Nd digits
    come in contiguous runs of ten starting at that script's zero."""
    zero = ord(script) - unicodedata.decimal(script)
    return chr(zero + int(digit))


@pytest.mark.parametrize("kind", sorted(CANONICAL))
def test_the_canonical_examples_are_valid(kind: str) -> None:
    check, good = CANONICAL[kind]
    assert check(good) is None


@pytest.mark.parametrize("kind", sorted(CANONICAL))
@given(space=st.sampled_from(WHITESPACE), where=st.sampled_from(["before", "after", "both"]))
def test_whitespace_around_an_identifier_is_refused(kind: str, space: str, where: str) -> None:
    check, good = CANONICAL[kind]
    value = {"before": space + good, "after": good + space, "both": space + good + space}[where]
    assert check(value) is not None


@pytest.mark.parametrize("kind", sorted(CANONICAL))
@given(script=unicode_digits, data=st.data())
def test_a_digit_of_another_script_is_refused(kind: str, script: str, data: st.DataObject) -> None:
    check, good = CANONICAL[kind]
    positions = [i for i, c in enumerate(good) if c in "0123456789"]
    pos = data.draw(st.sampled_from(positions))
    value = good[:pos] + _same_value(good[pos], script) + good[pos + 1 :]
    assert int(_same_value(good[pos], script)) == int(good[pos])  # int() would read it
    assert check(value) is not None


@given(
    region=st.sampled_from(REGIONS),
    born=st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31)),
    seq=st.integers(0, 999),
    script=unicode_digits,
)
def test_a_citizen_id_written_entirely_in_another_script_is_refused(
    region: str, born: dt.date, seq: int, script: str
) -> None:
    good = _valid_citizen_id(region, born, seq)
    other = "".join(_same_value(c, script) if c.isdigit() else c for c in good)
    assert check_citizen_id(other) is not None


@given(st.integers(0, 999))
def test_a_lower_case_check_x_is_refused(seq: int) -> None:
    for born in (dt.date(1949, 12, 31), dt.date(1990, 1, 1), dt.date(2001, 7, 8)):
        good = _valid_citizen_id("110105", born, seq)
        if good.endswith("X"):
            assert check_citizen_id(good) is None
            assert check_citizen_id(good[:-1] + "x") is not None


def test_lower_case_letters_in_a_credit_code_are_refused() -> None:
    assert check_credit_code("91350100m000100y43") is not None
    assert check_credit_code("9144030071526726xg") is not None


# Every character Python calls whitespace (Unicode White_Space, and the separators and
# controls str.strip() removes), not only the common ones listed above.
ALL_SPACES = [chr(c) for c in range(0x110000) if chr(c).isspace()]
any_space = st.sampled_from(ALL_SPACES)


@pytest.mark.parametrize("kind", sorted(CANONICAL))
@given(before=st.text(any_space, max_size=2), after=st.text(any_space, max_size=2))
def test_any_unicode_whitespace_around_an_identifier_is_refused(
    kind: str, before: str, after: str
) -> None:
    check, good = CANONICAL[kind]
    value = before + good + after
    assert (check(value) is None) is (value == good)


@pytest.mark.parametrize("kind", sorted(CANONICAL))
@given(data=st.data())
def test_any_non_ascii_character_anywhere_is_refused(kind: str, data: st.DataObject) -> None:
    check, good = CANONICAL[kind]
    pos = data.draw(st.integers(0, len(good)))
    char = data.draw(st.characters(min_codepoint=0x80))
    assert check(good[:pos] + char + good[pos:]) is not None
    assert check(good[:pos] + char + good[pos + 1 :]) is not None
