"""Load a batch export into the bus: validate every row, publish the valid ones, write the
rejects with line numbers and reasons, and resume where a previous run stopped.

Event ids are deterministic (source, type, row content), so even a full re-run that ignores
the checkpoint delivers nothing twice: the bus counts the copies as duplicates.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from govbus.adapters.batch_file import Row, read_rows
from govbus.adapters.publisher import Publisher, PublishResult
from govbus.schemas.errors import ReasonedError
from govbus.schemas.jsonvalues import to_record

_ID_NAMESPACE = uuid.UUID("2b4f6d0e-8c1a-4f7e-9d3b-5a6c7e8f9012")
CHECKPOINT_EVERY = 500


@dataclass
class LoadReport:
    published: int = 0
    rejected: int = 0
    skipped: int = 0  # done by an earlier run (checkpoint)
    rejects_file: Path | None = None
    event_ids: list[str] = field(default_factory=list)


def event_id_for(source: str, event_type: str, data: dict[str, object]) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return str(uuid.uuid5(_ID_NAMESPACE, f"{source}|{event_type}|{canonical}"))


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class BatchLoader:
    def __init__(self, publisher: Publisher, event_type: str, version: int | None = None) -> None:
        self.publisher = publisher
        self.event_type = event_type
        self.version = version
        self.event = publisher.encoder.event_type(event_type, version)

    def load(
        self, path: Path, *, restart: bool = False, on_row: Callable[[int], None] = lambda _: None
    ) -> LoadReport:
        checkpoint = path.with_name(path.name + ".govbus-checkpoint.json")
        rejects_path = path.with_name(path.name + ".rejects.jsonl")
        digest = file_digest(path)
        done_through = 0
        if not restart and checkpoint.exists():
            saved = json.loads(checkpoint.read_text())
            if saved.get("sha256") == digest:
                done_through = int(saved.get("done_through_line", 0))
        report = LoadReport(rejects_file=rejects_path)
        pending: list[tuple[int, Future[PublishResult]]] = []
        with rejects_path.open("a" if done_through else "w", encoding="utf-8") as rejects:
            for row in read_rows(path):
                on_row(row.line)
                if row.line <= done_through:
                    report.skipped += 1
                    continue
                problem = self._publish(row, pending, report)
                if problem is not None:
                    report.rejected += 1
                    rejects.write(
                        json.dumps(
                            {"line": row.line, "reason": problem[0], "message": problem[1]},
                            ensure_ascii=False,
                        )
                        + "\n"
                    )
                if len(pending) >= CHECKPOINT_EVERY:
                    done_through = self._settle(pending, report, checkpoint, digest, row.line)
            last = max(done_through, *(line for line, _ in pending)) if pending else done_through
            self._settle(pending, report, checkpoint, digest, last)
        return report

    def _publish(
        self, row: Row, pending: list[tuple[int, Future[PublishResult]]], report: LoadReport
    ) -> tuple[str, str] | None:
        if row.data is None:
            return "file.parse", row.error
        try:
            record = to_record(
                self.event, row.data, from_text=all(isinstance(v, str) for v in row.data.values())
            )
            event_id = event_id_for(self.publisher.encoder.source, self.event.type, record)
            future = self.publisher.publish(
                self.event.type, record, version=self.version, event_id=event_id
            )
        except ReasonedError as exc:
            return exc.reason, str(exc)
        pending.append((row.line, future))
        report.event_ids.append(event_id)
        return None

    def _settle(
        self,
        pending: list[tuple[int, Future[PublishResult]]],
        report: LoadReport,
        checkpoint: Path,
        digest: str,
        through_line: int,
    ) -> int:
        """Wait for every pending ack (raises if one failed: the checkpoint then stays where
        the last fully acknowledged stretch ended), then move the checkpoint."""
        for _, future in pending:
            future.result(timeout=120)
            report.published += 1
        pending.clear()
        checkpoint.write_text(json.dumps({"sha256": digest, "done_through_line": through_line}))
        return through_line
