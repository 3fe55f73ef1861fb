"""Parsing of batch exports (CSV with a header row, or JSON lines), with line numbers."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line of the file where the row starts
    data: dict[str, Any] | None  # None when the line itself could not be parsed
    error: str = ""


def read_rows(path: Path) -> Iterator[Row]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_rows(path)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _jsonl_rows(path)
    else:
        raise ValueError(f"{path.name}: use .csv or .jsonl")


def _csv_rows(path: Path) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        start = 2
        for record in reader:
            if None in record:  # more cells than header columns
                yield Row(start, None, "row has more cells than the header")
            elif any(v is None for v in record.values()):  # fewer cells
                yield Row(start, None, "row has fewer cells than the header")
            else:
                yield Row(start, {k: v for k, v in record.items() if k is not None})
            start = reader.line_num + 1


def _jsonl_rows(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Row(number, None, f"not JSON: {exc.msg}")
                continue
            if not isinstance(value, dict):
                yield Row(number, None, "each line must be a JSON object")
                continue
            yield Row(number, value)
