"""What list commands print: a table whose cells are never cut or wrapped (ids stay whole
and copyable at any terminal width, and in a pipe, where Rich would assume 80 columns), or
with ``--json`` the same rows as a JSON array of objects for machines."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

JsonOption = Annotated[bool, typer.Option("--json", help="print the rows as a JSON array")]


def whole_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table()
    for name in columns:
        table.add_column(name, no_wrap=True, overflow="ignore")
    for row in rows:
        table.add_row(*row)
    return table


def needed_width(console: Console, table: Table) -> int:
    """Columns marked ``no_wrap`` at their widest cell, the others at their longest word
    (at least 20 columns, so free text wraps into something readable), plus padding and
    borders. Rich itself would squeeze every column to fit the terminal and cut ids."""
    total = 0
    for column in table.columns:
        cells = [column.header, *column.cells]
        plain = [console.render_str(c).plain if isinstance(c, str) else str(c) for c in cells]
        lines = [line for text in plain for line in text.splitlines()] or [""]
        full = max(cell_len(line) for line in lines)
        if column.no_wrap:
            total += full
        else:
            word = max((cell_len(w) for line in lines for w in line.split()), default=0)
            total += min(full, max(word, 20))
    return total + 3 * len(table.columns) + 1  # padding of 1 each side, one border each


def print_whole(console: Console, table: Table) -> None:
    """Print wide enough that no unwrappable (``no_wrap``) cell is cut, whatever the
    terminal's width; other cells still wrap."""
    wide = Console(
        width=max(console.width, needed_width(console, table)),
        file=console.file,
        force_terminal=console.is_terminal,
        no_color=console.no_color,
    )
    wide.print(table)


def emit(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, object]],
    *,
    as_json: bool,
) -> None:
    """``rows`` keyed by column name; in JSON, the keys are the column names with spaces
    replaced by underscores, values as they are (numbers stay numbers)."""
    if as_json:
        keys = {c: c.replace(" ", "_") for c in columns}
        out = [{keys[c]: row.get(c) for c in columns} for row in rows]
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))
        return
    cells = [["" if row.get(c) is None else str(row.get(c)) for c in columns] for row in rows]
    print_whole(console, whole_table(columns, cells))
