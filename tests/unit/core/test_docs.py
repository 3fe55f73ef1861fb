"""The README and docs/ work from a fresh clone: every link stays inside the repository and
names something that exists, and every repository path they mention exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target): the target up to the closing parenthesis.
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A path under one of the repository's top-level folders, in running text or code.
TOP = "adapters|bench|deploy|devtools|docs|examples|gateway|govbus|helm|schemas|streams|tests"
PATH = re.compile(rf"(?<![\w./~-])(?:{TOP})/[\w./<>{{}}*-]*[\w>}}*]")
# Made at deploy time, not part of a clone (docs/deploy.md says which command makes them).
GENERATED = {"deploy/secrets", "deploy/secrets/peer_api_key"}


def links(text: str) -> list[str]:
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)]


def repo_paths(text: str) -> set[str]:
    # Patterns such as bench/results/<timestamp>.json or schemas/avro/*.avsc name no file.
    found = {m.group(0) for m in PATH.finditer(text)}
    return {p for p in found if not set(p) & set("<>{}*")} - GENERATED


def test_the_scanners_find_what_they_should() -> None:
    text = "see [x](../shared/A.md), [y](docs/gateway.md#top), [z](https://e.org/a) and "
    text += "`govbus/demo/gone.py`, tests/unit/x.py. Not bench/results/<t>.json nor a/b."
    assert links(text) == ["../shared/A.md", "docs/gateway.md#top"]
    assert repo_paths(text) == {"docs/gateway.md", "govbus/demo/gone.py", "tests/unit/x.py"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_stay_inside_the_repository_and_resolve(doc: Path) -> None:
    bad = []
    for target in links(doc.read_text(encoding="utf-8")):
        path = (doc.parent / target.split("#")[0]).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            bad.append(target)
    assert bad == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_repository_path_named_exists(doc: Path) -> None:
    missing = sorted(
        p for p in repo_paths(doc.read_text(encoding="utf-8")) if not (ROOT / p).exists()
    )
    assert missing == []


def test_the_readme_starts_with_make_demo_and_make_test() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert commands[:2] == ["make demo", "make test"]


# A command as the docs write it: `govbus dlq list` in code, or a line of a code block.
COMMAND = re.compile(r"(?:^|`|\$ |\.venv/bin/)govbus((?: [a-z][a-z0-9-]*(?:\|[a-z-]+)*)+)", re.M)


def commands(text: str) -> set[tuple[str, ...]]:
    return {tuple(w.split("|")[0] for w in m.group(1).split()) for m in COMMAND.finditer(text)}


def unknown_commands(found: set[tuple[str, ...]]) -> list[str]:
    import typer  # noqa: PLC0415

    from govbus.cli.main import app  # noqa: PLC0415

    root = typer.main.get_command(app)
    bad = []
    for words in found:
        command = root
        for word in words:
            subcommands = getattr(command, "commands", None)
            if subcommands is None:
                break  # the rest are arguments
            if word not in subcommands:
                bad.append(" ".join(words))
                break
            command = subcommands[word]
    return sorted(bad)


def test_the_command_scanner() -> None:
    text = "run `govbus dlq list` or\n.venv/bin/govbus keys issue|revoke --x and `govbus nope`"
    assert commands(text) == {("dlq", "list"), ("keys", "issue"), ("nope",)}
    assert unknown_commands(commands(text)) == ["nope"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_command_named_exists(doc: Path) -> None:
    assert unknown_commands(commands(doc.read_text(encoding="utf-8"))) == []
