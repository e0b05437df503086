"""The records of a fleet run in the lake: ``_sqlfleet/runs/<run key>/<database>/<stage>.json``.

Each stage of a database is its own object, written once per attempt in one PUT (or one rename
on a folder), so stages never overwrite each other and a reader never sees half a record. The
lake is where any worker of the fleet can read them: a rerun on another machine resumes from
what the crashed one left. ``sqlfleet.resume`` decides what the records mean.

A fleet run writes with ``background=True``: the records are made when the call is made and
written in that order by one thread of the journal's, so the run's dispatcher never waits for the
lake (three writes per database; one PUT each on S3). A record still unwritten when the process
dies is as if the database had got no further: every step is idempotent and a rerun redoes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime

import pyarrow as pa
from pydantic import BaseModel, TypeAdapter, ValidationError

from sqlfleet import layout
from sqlfleet.dispatch import Step
from sqlfleet.engines.base import MigrationType
from sqlfleet.errors import LakeError, SqlfleetError
from sqlfleet.lake import Lake
from sqlfleet.plan import DatabasePlan
from sqlfleet.report import DatabaseOutcome, ReplicationResult
from sqlfleet.resume import DatabaseRecords, FinishedRecord, ReplicatedRecord, StartedRecord

log = logging.getLogger(__name__)

_RECORD = TypeAdapter(StartedRecord | ReplicatedRecord | FinishedRecord)
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class RunJournal:
    """Reads and writes one run key's records; ``attempt`` names the flow run writing them."""

    def __init__(
        self,
        lake: Lake,
        run_key: str,
        mode: MigrationType,
        attempt: str,
        clock: Clock = _utc_now,
        *,
        background: bool = False,
    ) -> None:
        """``background``: write records on a thread of the journal's, in order (see ``flush``)."""
        self.lake = lake
        self.run_key = layout.check_run_key(run_key)
        self.mode: MigrationType = mode
        self.attempt = attempt
        self.clock = clock
        self.background = background
        self._writer: ThreadPoolExecutor | None = None
        self._pending: list[Future[bool]] = []
        self._unwritten = 0

    def read(self, max_workers: int = 16) -> dict[str, DatabaseRecords]:
        """Every database's records under the run key (one LIST, then the objects in parallel).

        A damaged record raises ``LakeError``: guessing would risk loading a database twice.
        """
        keys = []
        for obj in self.lake.list(layout.run_prefix(self.run_key)):
            parsed = layout.parse_run_record_key(obj.key)
            if parsed is not None:
                keys.append(obj.key)
        workers = max(1, min(max_workers, len(keys)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqlfleet-journal") as pool:
            records = list(pool.map(self._read_one, keys))
        found: dict[str, dict[str, object]] = {}
        for record in records:
            found.setdefault(record.database, {})[record.stage] = record
        return {name: DatabaseRecords.model_validate(stages) for name, stages in found.items()}

    def _read_one(self, key: str) -> StartedRecord | ReplicatedRecord | FinishedRecord:
        raw = self.lake.read_bytes(key)
        if raw is None:
            raise LakeError(f"the run record {self.lake.uri(key)} was listed but is gone")
        try:
            return _RECORD.validate_json(raw)
        except ValidationError as exc:
            raise LakeError(f"the run record {self.lake.uri(key)} is damaged: {exc}") from exc

    def flush(self, timeout: float | None = None) -> int:
        """Wait (up to ``timeout``) for the records being written in the background and stop the
        writer; how many records were not written (each was logged)."""
        writer, self._writer = self._writer, None
        pending, self._pending = self._pending, []
        _, late = wait(pending, timeout=timeout)
        if writer is not None:
            writer.shutdown(wait=False, cancel_futures=True)
        if late:
            log.warning("%d record(s) of run %s not written after %s s", len(late), self.run_key, timeout)
        unwritten, self._unwritten = self._unwritten + len(late), 0
        return unwritten

    # -- writes: each returns False (and logs) instead of failing the database ---------------
    # (in the background: True once queued; a failure is logged when it happens)

    def started(self, database: str, task: str) -> bool:
        """Record that the database's first step starts in this attempt."""
        return self._write(StartedRecord(**self._common(database), task=task))

    def replicated(self, database: str, replication: ReplicationResult, plan: DatabasePlan) -> bool:
        """Record the database's finished replication (what verification and loading start from)."""
        return self._write(ReplicatedRecord(**self._common(database), replication=replication, plan=plan))

    def finished(self, outcome: DatabaseOutcome, failed_step: Step | None, batch_id: str) -> bool:
        """Record the database's outcome in this attempt."""
        record = FinishedRecord(
            **self._common(outcome.database),
            status=outcome.status,
            failed_step=failed_step,
            batch_id=batch_id,
            outcome=outcome,
        )
        return self._write(record)

    def _common(self, database: str) -> dict[str, object]:
        return {
            "run_key": self.run_key,
            "database": database,
            "mode": self.mode,
            "attempt": self.attempt,
            "at": self.clock(),
        }

    def _write(self, record: BaseModel) -> bool:
        if not self.background:
            return self._put(record)
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlfleet-journal-write")
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._writer.submit(self._put, record))
        return True

    def _put(self, record: BaseModel) -> bool:
        """One atomic write. A failure is logged, not raised: the run goes on, and a rerun of the
        key redoes this database (every step is idempotent)."""
        database, stage = record.database, record.stage  # type: ignore[attr-defined]
        key = layout.run_record_key(self.run_key, database, stage)
        try:
            with self.lake.open_output(key) as out:
                out.write(record.model_dump_json().encode())
        except (SqlfleetError, OSError, pa.ArrowException) as exc:
            log.warning("%s: the %s record of run %s was not written: %s", database, stage, self.run_key, exc)
            self._unwritten += 1
            return False
        return True


__all__ = ["RunJournal"]
