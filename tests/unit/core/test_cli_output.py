"""The CLI: ``--version``, ``--json`` on list commands, and ids never cut, however narrow
the terminal (a pipe counts as 80 columns)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from govbus import __version__
from govbus.cli import output
from govbus.cli.main import app
from govbus.schemas.catalogue import default_catalogue

runner = CliRunner()
LONG_ID = "gbk_" + "a" * 40 + "_delivery-0f6c1d7e-4b7a-4d5e-9a39-2c8d3b1e5f7a"


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"govbus {__version__}"


def test_schemas_list_as_json_has_every_type_whole() -> None:
    result = runner.invoke(app, ["schemas", "list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {(r["type"], r["v"], r["topic"]) for r in rows} == {
        (e.type, e.version, e.topic) for e in default_catalogue()
    }


def test_schemas_list_at_80_columns_cuts_no_topic() -> None:
    result = runner.invoke(app, ["schemas", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    for event in default_catalogue():
        assert event.topic in result.output


def _printed(columns: list[str], rows: list[dict[str, object]], width: int) -> str:
    buffer = io.StringIO()
    output.emit(Console(file=buffer, width=width), columns, rows, as_json=False)
    return buffer.getvalue()


def test_a_long_id_is_printed_whole_on_one_line_at_any_width() -> None:
    rows = [{"ref": "0:12", "event id": LONG_ID, "reason": "identifier.citizen_id"}]
    for width in (40, 80, 200):
        text = _printed(["ref", "event id", "reason"], rows, width)
        assert LONG_ID in text
        assert "…" not in text


def test_wrapping_columns_still_wrap_but_no_wrap_ones_stay_whole() -> None:
    table = output.Table("id", "note")
    table.columns[0].no_wrap = True
    table.add_row(LONG_ID, "a long free text note " * 10)
    buffer = io.StringIO()
    output.print_whole(Console(file=buffer, width=80), table)
    text = buffer.getvalue()
    assert LONG_ID in text
    assert max(len(line) for line in text.splitlines()) < len(LONG_ID) + 60


def test_json_rows_keep_their_types_and_use_underscored_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [{"key id": LONG_ID, "roles": ["subscriber"], "revoked": None}]
    output.emit(Console(), ["key id", "roles", "revoked"], rows, as_json=True)
    assert json.loads(capsys.readouterr().out) == [
        {"key_id": LONG_ID, "roles": ["subscriber"], "revoked": None}
    ]
