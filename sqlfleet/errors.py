"""The project's error tree, grouped by what the caller does next.

- ``ConfigError``: the input is wrong; fix it and run again. Nothing has started.
- ``TransientError``: the world hiccuped; retrying the same call may succeed.
- ``TerminalError``: this unit of work (a database, a table) failed; the others continue.
- ``VerificationError``: the data that arrived disagrees with what was expected; nothing is
  loaded from the disagreeing part.

Adapters translate library exceptions into these once, at their boundary.
"""

from __future__ import annotations

from collections.abc import Sequence


class SqlfleetError(Exception):
    """Base of every error raised on purpose by sqlfleet."""


class ConfigError(SqlfleetError):
    """Bad settings or catalog: the user fixes the input; nothing was started."""


class CatalogError(ConfigError):
    """One or more catalog problems, all listed at once."""

    def __init__(self, problems: Sequence[str], source: str = "catalog") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{lines}")


class TransientError(SqlfleetError):
    """A failure that may go away on retry (throttling, a dropped connection, a locked file)."""


class TerminalError(SqlfleetError):
    """A failure of one unit of work that retrying will not fix; other units continue."""


class SourceError(TerminalError):
    """The source database could not be read as the catalog describes."""


class ReplicationError(TerminalError):
    """The replication task failed or ended in a state that is not a success."""


class OutputPrefixError(ReplicationError):
    """A task writes (or wrote) somewhere other than its database's planned lake prefix; nothing
    of that database is verified or loaded."""


class DeadlineExceededError(TerminalError):
    """A wait ran past its deadline."""


class LakeError(TerminalError):
    """The lake (object store) could not be read or written."""


class VerificationError(TerminalError):
    """What arrived in the lake disagrees with what the engine reported."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class WarehouseError(TerminalError):
    """A warehouse statement failed for a reason retrying will not fix."""
