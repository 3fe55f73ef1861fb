"""Check the identifiers departments exchange, so bad ones are refused at ingestion.

Each ``check_*`` returns None when the value is valid, or a short reason why not.

Only the canonical form passes: ASCII digits and upper-case letters, nothing around them.
A trailing newline, a full-width digit or a lower-case ``x`` would otherwise be stored,
masked and pseudonymised as a *different* person (``"...002X"`` and ``"...002x"`` hash
apart) and never show in that citizen's disclosure report. Hence ``fullmatch`` (``$``
matches before a final newline) and ASCII classes (``\\d`` matches every Unicode digit, and
``int()`` reads them).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

# GB 11643-1999 citizen ID: ISO 7064 MOD 11-2 over positions 1-17.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)

# GB 32100-2015 unified social credit code: MOD 31 over a 31-character alphabet.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE = re.compile(rf"[{USCC_ALPHABET}]{{18}}", re.ASCII)

# GB/T 2260 province-level codes (first two digits); 71 Taiwan, 81/82 Hong Kong/Macao.
PROVINCES = frozenset(
    {
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    }
)
_REGION_RE = re.compile(r"[0-9]{6}", re.ASCII)
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}", re.ASCII)
_CERT_RE = re.compile(r"[A-Z0-9]{6,20}", re.ASCII)

# GB/T 36904 electronic licence identifier; check char by ISO/IEC 7064 MOD 37,36.
_LICENCE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LICENCE_RE = re.compile(r"1\.2\.156\.3005\.2\.([0-9A-Z]+\.){4}[0-9A-Z]", re.ASCII)

EARLIEST_BIRTH = dt.date(1900, 1, 1)


def citizen_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def check_region_code(value: str) -> str | None:
    if not _REGION_RE.fullmatch(value):
        return "region code must be 6 digits"
    if value[:2] not in PROVINCES:
        return f"unknown province code {value[:2]}"
    return None


def check_citizen_id(value: str, *, today: dt.date | None = None) -> str | None:
    if not _ID_RE.fullmatch(value):
        return "citizen ID must be 17 digits (ASCII 0-9) and a check digit or upper-case X"
    region = check_region_code(value[:6])
    if region is not None:
        return f"citizen ID region: {region}"
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "citizen ID birth date is not a date"
    if not EARLIEST_BIRTH <= born <= (today or dt.date.today()):
        return "citizen ID birth date out of range"
    if citizen_id_check_char(value[:17]) != value[17]:
        return "citizen ID check digit mismatch"
    return None


def citizen_id_birth_date(value: str) -> dt.date:
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_credit_code(value: str) -> str | None:
    if not _USCC_RE.fullmatch(value):
        return "credit code must be 18 characters of 0-9 and A-Y without I, O, Z, S, V"
    if uscc_check_char(value[:17]) != value[17]:
        return "credit code check character mismatch"
    return None


def check_mobile(value: str) -> str | None:
    if _MOBILE_RE.fullmatch(value):
        return None
    return "mobile number must be 11 digits (ASCII 0-9) starting 13-19"


def check_certificate_no(value: str) -> str | None:
    return None if _CERT_RE.fullmatch(value) else "certificate number must be 6-20 of A-Z, 0-9"


def mod37_36_check_char(payload: str) -> str:
    """ISO/IEC 7064 hybrid MOD 37,36 over 0-9A-Z."""
    modulus = 36
    product = modulus
    for char in payload:
        total = (product + _LICENCE_ALPHABET.index(char)) % modulus or modulus
        product = (total * 2) % (modulus + 1)
    return _LICENCE_ALPHABET[(modulus + 1 - product) % modulus]


def check_licence_id(value: str) -> str | None:
    if not _LICENCE_RE.fullmatch(value):
        return "licence id must be 1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>"
    body, check = value.rsplit(".", 1)
    if mod37_36_check_char(body.replace(".", "")) != check:
        return "licence id check character mismatch"
    return None


def check_date(value: dt.date) -> str | None:
    if not EARLIEST_BIRTH <= value <= dt.date.today() + dt.timedelta(days=366 * 20):
        return "date out of range"
    return None


# ``govbus.format`` in the catalogue names the checker for a string field.
STRING_CHECKS: dict[str, Callable[[str], str | None]] = {
    "citizen_id": check_citizen_id,
    "credit_code": check_credit_code,
    "region_code": check_region_code,
    "mobile": check_mobile,
    "certificate_no": check_certificate_no,
    "licence_id": check_licence_id,
}
