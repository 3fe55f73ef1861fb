"""The wheel (what the image installs: the Dockerfile runs ``pip wheel .``) carries only what runs
in production: no local-runtime installer, demo, sample data, bench or tests, and no generic
top-level import names (everything under ``govbus.*``)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT

LOCAL_TOOLING = ("devenv", "demo", "bench", "examples", "govbus_devtools", "tests")


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=600,
    )
    (wheel,) = out.glob("govbus-*.whl")
    return zipfile.ZipFile(wheel).namelist()


def test_the_wheel_holds_only_the_govbus_package(wheel_names: list[str]) -> None:
    tops = {Path(name).parts[0] for name in wheel_names}
    assert tops == {"govbus", next(t for t in tops if t.endswith(".dist-info"))}


@pytest.mark.parametrize("part", LOCAL_TOOLING)
def test_the_wheel_carries_no_local_tooling(wheel_names: list[str], part: str) -> None:
    assert not [name for name in wheel_names if part in Path(name).parts]


def test_the_wheel_carries_the_rooms_and_their_data(wheel_names: list[str]) -> None:
    names = set(wheel_names)
    for room in ("schemas", "streams", "gateway", "adapters", "cli"):
        assert f"govbus/{room}/__init__.py" in names
    assert "govbus/schemas/avro/catalogue.lock.json" in names
    assert any(name.startswith("govbus/adapters/sql/") for name in names)
