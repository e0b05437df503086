"""One Parquet file being written into the lake, the way DMS writes its S3 target files."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq

from sqlfleet.errors import ReplicationError
from sqlfleet.lake import Lake


class LakeParquetWriter:
    """A Parquet file at ``key``, visible in the lake only after ``commit`` (never half-written)."""

    def __init__(self, lake: Lake, key: str, schema: pa.Schema) -> None:
        self.key = key
        self._cm = lake.open_output(key)
        self._sink = self._cm.__enter__()
        # Parquet 2.x with microsecond timestamps, like DMS's parquet-2-0 setting; snappy.
        self._writer = pq.ParquetWriter(
            self._sink,
            schema,
            compression="snappy",
            version="2.6",
            coerce_timestamps="us",
            allow_truncated_timestamps=False,
        )

    @property
    def bytes_written(self) -> int:
        """Bytes written to the sink so far (what ``MaxFileSize`` is compared with)."""
        return int(self._sink.tell())

    def write(self, batch: pa.RecordBatch) -> None:
        """Append one record batch."""
        self._writer.write_batch(batch)

    def commit(self) -> None:
        """Close the file and make it visible."""
        self._writer.close()
        self._cm.__exit__(None, None, None)

    def abort(self) -> None:
        """Close and discard the file; nothing becomes visible."""
        try:
            self._writer.close()
        finally:
            err = ReplicationError("file abandoned")
            with contextlib.suppress(ReplicationError):
                self._cm.__exit__(type(err), err, None)


class RollingParquetFiles:
    """Record batches written as a run of lake files of about ``limit_bytes`` each, the way DMS
    splits a table by ``MaxFileSize``: a file starts at the first batch after the previous one
    passed the limit, at ``key_for(<files started so far>)``. Used as a context manager: leaving
    it normally commits the open file; an exception discards it (committed files stay)."""

    def __init__(self, lake: Lake, schema: pa.Schema, limit_bytes: int, key_for: Callable[[int], str]) -> None:
        self.lake = lake
        self.schema = schema
        self.limit = limit_bytes
        self.key_for = key_for
        self.files = 0
        self._writer: LakeParquetWriter | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        """Append ``batch`` to the open file (starting one if needed); close it once past the limit."""
        if self._writer is None:
            self._writer = LakeParquetWriter(self.lake, self.key_for(self.files), self.schema)
            self.files += 1
        self._writer.write(batch)
        if self._writer.bytes_written >= self.limit:
            writer, self._writer = self._writer, None
            writer.commit()

    def __enter__(self) -> RollingParquetFiles:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if kind is None:
            writer.commit()
        else:
            writer.abort()
