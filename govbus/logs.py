"""Structured (JSON lines) logs; ``extra={...}`` fields become keys. Secrets never go in."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def warn_unknown_settings() -> None:
    """A misspelt GOVBUS_* variable is otherwise silently ignored: say so at start."""
    import os  # noqa: PLC0415

    from govbus.settings_reference import unknown_in_environment  # noqa: PLC0415

    for name in unknown_in_environment(os.environ):
        logging.getLogger("govbus.config").warning(
            "unknown setting ignored (misspelt?)", extra={"variable": name}
        )
