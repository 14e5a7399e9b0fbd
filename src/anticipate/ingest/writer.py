"""A Parquet writer that compresses and writes on its own thread (ingest's staged tables)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


class BackgroundWriter:
    """A Parquet writer that compresses and writes on its own thread, one table behind."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        import queue
        import threading

        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="ingest-writer", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            table = self._queue.get()
            if table is None:
                return
            if self._error is None:
                try:
                    self._writer.write_table(table)
                except BaseException as exc:  # re-raised on the caller's thread
                    self._error = exc

    def write_table(self, table: pa.Table) -> None:
        """Queue ``table`` (blocks while the previous one is still being written)."""
        if self._error is not None:
            raise self._error
        self._queue.put(table)

    def close(self) -> None:
        """Wait for the queued tables, close the file and re-raise any write error."""
        self._queue.put(None)
        self._thread.join()
        self._writer.close()
        if self._error is not None:
            raise self._error
