"""The import contract (pyproject's [tool.importlinter], run by `make lint`) names every module of
the govbus package in a layer: a new core module that no layer names would escape the rules."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import govbus

ROOT = Path(__file__).resolve().parents[3]


def layered_modules() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    return {name.strip() for layer in layers for name in re.split(r"[|:]", layer)}


def test_every_module_of_the_package_is_in_a_layer() -> None:
    package = Path(govbus.__file__).parent
    modules = {
        f"govbus.{p.stem if p.is_file() else p.name}"
        for p in package.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert modules - layered_modules() == set()
