"""The catalogue's evolution gate: published versions never change, and each new version is
compatible with the one before it (BACKWARD by default, per-type ``govbus.compatibility``).

``catalogue.lock.json`` records the fingerprint of every published version; ``govbus schemas
lock`` adds new versions to it (after the gate passed) and never rewrites existing ones.
"""

from __future__ import annotations

import itertools
import json
from importlib import resources
from pathlib import Path
from typing import cast

from govbus.schemas.catalogue import Catalogue, catalogue_dir
from govbus.schemas.compat import MODES, check

Lock = dict[str, str]


def lock_path() -> Path:
    return Path(str(resources.files("govbus.schemas").joinpath("avro", "catalogue.lock.json")))


def extra_lock_path() -> Path | None:
    """The lock file of GOVBUS_CATALOGUE_DIR's event types, kept in that directory."""
    extra = catalogue_dir()
    return None if extra is None else extra / "catalogue.lock.json"


def _read(path: Path) -> Lock:
    return cast(Lock, json.loads(path.read_text())) if path.exists() else {}


def read_lock(path: Path | None = None) -> Lock:
    """The lock at ``path``; by default the shipped lock plus GOVBUS_CATALOGUE_DIR's."""
    if path is not None:
        return _read(path)
    extra = extra_lock_path()
    return {**_read(lock_path()), **(_read(extra) if extra is not None else {})}


def gate(catalogue: Catalogue, lock: Lock) -> list[str]:
    problems: list[str] = []
    current = {e.ce_type: e.fingerprint.hex() for e in catalogue}
    for ce_type, fp in sorted(lock.items()):
        if ce_type not in current:
            problems.append(f"{ce_type} was published and is gone; retire versions, never delete")
        elif current[ce_type] != fp:
            problems.append(f"{ce_type} changed after publication: add a new version instead")
    for ce_type in sorted(set(current) - set(lock)):
        problems.append(f"{ce_type} is not in the lock file: run 'govbus schemas lock'")
    for type_name in catalogue.types():
        versions = catalogue.versions(type_name)
        numbers = [e.version for e in versions]
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{type_name}: versions must be 1..n without gaps, found {numbers}")
        for old, new in itertools.pairwise(versions):
            mode = str(new.schema.get("govbus.compatibility", "BACKWARD")).upper()
            if mode not in MODES:
                problems.append(f"{new.ce_type}: unknown govbus.compatibility {mode}")
                continue
            problems += [
                f"{new.ce_type} vs v{old.version}: {p}" for p in check(new.schema, old.schema, mode)
            ]
    return problems


def updated_lock(catalogue: Catalogue, lock: Lock) -> Lock:
    """The lock with new versions added; existing entries are never rewritten."""
    out = dict(lock)
    for event in catalogue:
        out.setdefault(event.ce_type, event.fingerprint.hex())
    return dict(sorted(out.items()))


def write_lock(lock: Lock, path: Path | None = None) -> None:
    """Write ``lock`` to ``path``; by default, with GOVBUS_CATALOGUE_DIR set, the versions
    not shipped go to that directory's lock (the installed package is never written)."""
    extra = extra_lock_path()
    if path is None and extra is not None:
        shipped = _read(lock_path())
        path, lock = extra, {k: v for k, v in lock.items() if k not in shipped}
    (path or lock_path()).write_text(json.dumps(lock, indent=2) + "\n")
