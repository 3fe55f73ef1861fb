"""The access log never holds an identifier: uvicorn logs each request's path and query,
and a client may put anything there (an old client asking for a report with the citizen's
ID in the URL, a typo). Path segments that could be an identifier and every query string
are replaced before the record is written."""

from __future__ import annotations

import logging
import re

# Citizen IDs, credit codes, certificate and licence numbers: long runs with digits.
_IDENTIFIER_LIKE = re.compile(r"^(?=.*\d)[^/]{12,}$")
ACCESS_LOGGER = "uvicorn.access"


def redact(target: str) -> str:
    """``/v1/x/110102193805201633/y?a=b`` -> ``/v1/x/<redacted>/y?<redacted>``."""
    path, sep, _ = target.partition("?")
    parts = ["<redacted>" if _IDENTIFIER_LIKE.match(p) else p for p in path.split("/")]
    return "/".join(parts) + ("?<redacted>" if sep else "")


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def install() -> None:
    """Idempotent: one filter on uvicorn's access logger, whoever configures logging."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
