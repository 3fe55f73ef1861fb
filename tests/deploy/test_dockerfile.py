"""The Dockerfile, statically (no Docker engine here): multi-stage, the runtime stage has no
build context beyond the wheels, runs as a numeric non-root user, has a healthcheck, and its
entrypoint is the govbus CLI."""

from __future__ import annotations

import re

from tests.deploy.conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for word, rest in instructions():
        if word == "FROM":
            out.append([])
        if out:
            out[-1].append((word, rest))
    return out


def test_multi_stage_with_a_lean_non_root_runtime() -> None:
    build, runtime = stages()
    assert build[0][1].endswith("AS build")
    assert runtime[0][1].endswith("AS runtime")
    copies = [rest for word, rest in runtime if word == "COPY"]
    assert copies == ["--from=build /wheels /wheels"]  # no source tree in the final image
    users = [rest for word, rest in runtime if word == "USER"]
    assert users
    assert re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", users[-1])
    assert any(word == "HEALTHCHECK" for word, _ in runtime)
    assert ("ENTRYPOINT", '["govbus"]') in runtime


def test_the_base_image_is_pinned() -> None:
    arg = re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE)
    assert arg is not None
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", arg.group(1))


def test_the_build_context_leaves_out_the_venv_and_git() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "tests"} <= set(ignored)
