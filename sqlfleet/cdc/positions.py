"""Positions in a source's change stream and the DMS strings that carry them (pure).

A position is a SQL Server log sequence number (LSN): ``binary(10)``, written by DMS as
``00000014:00000061:0001`` (4 bytes, 4 bytes, 2 bytes in hexadecimal). ``CdcStartPosition``
also accepts a date, and ``CdcStopPosition`` is ``server_time:<time>`` or ``commit_time:<time>``
(reference/dms.md §4). The SQLite capture numbers its changes 1, 2, 3, ... and writes them in the
same 10-byte form, so checkpoints look and sort the same whichever source produced them.

The change sequence is DMS's ``$AR_H_CHANGE_SEQ``: 35 digits, the first 16 a timestamp and the
last 19 a record id (reference/dms.md §1.3). Here the timestamp is the commit time in microseconds
since 1970 and the record id the change's sequence value, so the string sorts like the changes.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Literal

StopKind = Literal["server_time", "commit_time"]

LSN_BYTES = 10
MAX_LSN = 2 ** (8 * LSN_BYTES) - 1
_LSN_TEXT = re.compile(r"^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})$")
_LSN_HEX = re.compile(r"^0[xX]([0-9A-Fa-f]{20})$")
_STOP = re.compile(r"^(server_time|commit_time):(.+)$")
_EPOCH = datetime(1970, 1, 1)
TIMESTAMP_DIGITS = 16
RECORD_DIGITS = 19
#: ``yyyy-MM-dd HH:mm:ss.ffffff``, the format of DMS's ``TimestampColumnName`` column.
DMS_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def format_lsn(value: int) -> str:
    """``42`` -> ``00000000:00000000:002A`` (the form DMS accepts as ``CdcStartPosition``)."""
    if not 0 <= value <= MAX_LSN:
        raise ValueError(f"LSN out of range: {value}")
    text = f"{value:020X}"
    return f"{text[:8]}:{text[8:16]}:{text[16:]}"


def lsn_hex(value: int) -> str:
    """``42`` -> ``0x0000000000000000002A``, a T-SQL ``binary(10)`` literal."""
    format_lsn(value)
    return f"0x{value:020X}"


def parse_lsn(text: str) -> int:
    """The LSN written as ``xxxxxxxx:xxxxxxxx:xxxx`` or ``0x`` + 20 hex digits; ``ValueError`` otherwise."""
    match = _LSN_TEXT.match(text.strip())
    if match is not None:
        return int("".join(match.groups()), 16)
    match = _LSN_HEX.match(text.strip())
    if match is not None:
        return int(match.group(1), 16)
    raise ValueError(f"not an LSN: {text!r} (expected xxxxxxxx:xxxxxxxx:xxxx in hexadecimal)")


def is_lsn(text: str) -> bool:
    """Whether ``text`` is an LSN in one of the forms ``parse_lsn`` reads."""
    try:
        parse_lsn(text)
    except ValueError:
        return False
    return True


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo is not None else when


def parse_time(text: str) -> datetime:
    """An ISO date or time (``2018-03-08T12:12:12``, optional fraction or zone) as naive UTC."""
    try:
        return _naive_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise ValueError(f"not a date or time: {text!r} (expected ISO 8601, e.g. 2018-03-08T12:12:12)") from None


def parse_start_position(text: str) -> int | datetime:
    """``CdcStartPosition``: an LSN (returned as ``int``) or a date (returned as naive UTC).

    DMS's own ``checkpoint:V1#...`` strings are opaque outside DMS and are refused with a message.
    """
    if text.startswith("checkpoint:"):
        raise ValueError(f"{text!r} is a DMS recovery checkpoint; only AWS DMS can resume from it")
    if is_lsn(text):
        return parse_lsn(text)
    return parse_time(text)


def stop_position(when: datetime, kind: StopKind = "server_time") -> str:
    """``server_time:2018-02-09T12:12:13``: stop at ``when`` rounded up to the next whole second.

    DMS takes whole seconds; rounding up never cuts a change committed before ``when`` out of the
    window (the window ends at an exact LSN, so the next one starts right after it anyway).
    """
    when = _naive_utc(when)
    whole = when.replace(microsecond=0)
    if whole < when:
        whole += timedelta(seconds=1)
    return f"{kind}:{whole.strftime('%Y-%m-%dT%H:%M:%S')}"


def parse_stop_position(text: str) -> tuple[StopKind, datetime]:
    """``server_time:<time>`` / ``commit_time:<time>`` -> (kind, naive UTC time)."""
    match = _STOP.match(text.strip())
    if match is None:
        raise ValueError(f"not a CDC stop position: {text!r} (expected server_time:<ISO time> or commit_time:...)")
    kind: StopKind = "server_time" if match.group(1) == "server_time" else "commit_time"
    return kind, parse_time(match.group(2))


def dms_timestamp(when: datetime) -> str:
    """``2024-01-31 12:00:00.123000``, as DMS writes its timestamp column."""
    return _naive_utc(when).strftime(DMS_TIMESTAMP_FORMAT)


def change_seq(commit_time: datetime, record_id: int) -> str:
    """DMS ``$AR_H_CHANGE_SEQ``: 16 digits of commit microseconds since 1970 + 19 digits of record id."""
    micros = math.floor((_naive_utc(commit_time) - _EPOCH) / timedelta(microseconds=1))
    if not 0 <= micros < 10**TIMESTAMP_DIGITS:
        raise ValueError(f"commit time out of range for a change sequence: {commit_time}")
    if not 0 <= record_id < 10**RECORD_DIGITS:
        raise ValueError(f"record id out of range for a change sequence: {record_id}")
    return f"{micros:0{TIMESTAMP_DIGITS}d}{record_id:0{RECORD_DIGITS}d}"


__all__ = [
    "DMS_TIMESTAMP_FORMAT",
    "MAX_LSN",
    "StopKind",
    "change_seq",
    "dms_timestamp",
    "format_lsn",
    "is_lsn",
    "lsn_hex",
    "parse_lsn",
    "parse_start_position",
    "parse_stop_position",
    "parse_time",
    "stop_position",
]
