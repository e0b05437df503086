"""The embedded engine's task state, kept in the lake so another process can read it.

A DMS task lives on its replication instance: a new process (a verify-only run, a resumed run)
describes it and reads its table statistics. The embedded engine's tasks live in the process that
runs them, so the engine writes each task's state to ``_sqlfleet/engine/local/<task>.json`` at
every state transition (start, running, stopped or failed) and, while it runs, every
``heartbeat_seconds``. A task found ``starting``/``running`` in the lake whose process is gone is
reported ``failed`` with "the process running this task exited", as DMS reports a task whose
instance failed.

Whether the owner is gone: on the same host, its process id must still run (and be the same
process: its start time is compared where ``/proc`` has it); on another host, its heartbeat must be
recent.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
import weakref
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from sqlfleet import layout
from sqlfleet.engines.base import STOP_FATAL_ERROR, TableStatistics, TaskRef, TaskSpec, TaskStatus
from sqlfleet.lake import Lake

#: Engines alive in this process, by id (a task of this process is live only if its engine is).
_LIVE_ENGINES: weakref.WeakValueDictionary[str, object] = weakref.WeakValueDictionary()
_LIVE_LOCK = threading.Lock()
ACTIVE_STATUSES = frozenset({"starting", "running", "stopping"})


def _process_started(pid: int) -> str | None:
    """The start time of process ``pid`` (``/proc/<pid>/stat`` field 22), or ``None`` without ``/proc``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


class EngineOwner(BaseModel):
    """The engine (and process, and host) that runs a task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    pid: int
    process_started: str | None = None
    engine: str

    @classmethod
    def new(cls) -> EngineOwner:
        """A fresh identity for an engine of this process."""
        pid = os.getpid()
        return cls(host=socket.gethostname(), pid=pid, process_started=_process_started(pid), engine=uuid.uuid4().hex)

    def describe(self) -> str:
        """``pid 123 on host-a`` for messages."""
        return f"pid {self.pid} on {self.host}"


def register_engine(owner: EngineOwner, engine: object) -> None:
    """Mark ``engine`` as live in this process for as long as it exists."""
    with _LIVE_LOCK:
        _LIVE_ENGINES[owner.engine] = engine


def owner_alive(owner: EngineOwner, heartbeat_at: datetime, now: datetime, stale_after: timedelta) -> bool:
    """Whether the process that owns a task still runs it (see the module docstring)."""
    if owner.host != socket.gethostname():
        return now - heartbeat_at < stale_after
    if owner.pid == os.getpid():
        with _LIVE_LOCK:
            return owner.engine in _LIVE_ENGINES
    if not _pid_runs(owner.pid):
        return False
    started = _process_started(owner.pid)
    return owner.process_started is None or started is None or started == owner.process_started


class StoredTask(BaseModel):
    """What the lake holds about one embedded-engine task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    ref: TaskRef
    spec: TaskSpec
    status: TaskStatus
    tables: tuple[TableStatistics, ...] = ()
    runs: int = 0
    owner: EngineOwner | None = None
    written_at: datetime

    def orphaned(self, now: datetime) -> StoredTask:
        """This task as ``failed`` because the process running it exited (like an instance failure)."""
        who = self.owner.describe() if self.owner else "an unknown process"
        message = (
            f"the process running this task exited ({who}) before the task finished; "
            "its output is incomplete: start the task again"
        )
        status = self.status.model_copy(
            update={
                "status": "failed",
                "stop_reason": STOP_FATAL_ERROR,
                "last_failure_message": message,
                "stats": self.status.stats.model_copy(update={"stop_date": now}),
            }
        )
        return self.model_copy(update={"status": status, "owner": None, "written_at": now})


class TaskStateStore:
    """Reads and atomically writes ``StoredTask`` objects in the lake."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def read(self, identifier: str) -> StoredTask | None:
        """The stored state of a task; ``None`` when it never ran; ``LakeError`` when damaged."""
        key = layout.engine_task_key(identifier)
        return self.lake.read_model(key, StoredTask, "task state")

    def write(self, state: StoredTask) -> None:
        """Replace a task's state in one write."""
        with self.lake.open_output(layout.engine_task_key(state.ref.identifier)) as out:
            out.write(state.model_dump_json().encode())


__all__ = [
    "ACTIVE_STATUSES",
    "EngineOwner",
    "StoredTask",
    "TaskStateStore",
    "owner_alive",
    "register_engine",
]
