"""Writing an export's many small files (a label file per image) on a second thread.

A per-image writer spends a third of its time in ``open``/``write``/``close``, which release
the GIL; handed to a thread in batches, those system calls run on the other core while the
writer formats the next images. The thread also hashes what it writes, so the manifest need
not read every file back. At most a few batches wait; what stays is a digest per file."""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from types import TracebackType
from typing import BinaryIO

_Batch = list[tuple[str, bytes]]
FileId = tuple[int, int]
"""``(st_dev, st_ino)``: one file, however its path is spelled."""


class FileSink:
    """Writes files whole, in the order asked, and remembers each one's sha256 by file identity
    (``(st_dev, st_ino)``: two spellings of one file, as on a case-insensitive file system,
    share it, and the last write wins in the file and in its digest).

    ``background=False`` writes each file at once, in the caller's thread (for writers run
    outside `run_export`). A write that fails is raised by the next `write_text` or by
    `close`; `close` must be called (or the sink used as a context manager) before the files
    are read."""

    def __init__(self, *, background: bool = False, batch: int = 32, depth: int = 8) -> None:
        self._batch_size = batch
        self._pending: _Batch = []
        self._digests: dict[FileId, str] = {}
        self._error: BaseException | None = None
        self._queue: queue.Queue[_Batch | None] | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._drain, name="file-sink", daemon=True)
            self._thread.start()

    def write_text(self, path: str | os.PathLike[str], text: str) -> None:
        """Write ``text`` as UTF-8 to ``path``, replacing any file there; its folder is made
        when missing (a label file mirroring a nested image path)."""
        self._raise_error()
        self._pending.append((os.fspath(path), text.encode("utf-8")))
        if self._queue is None:
            self._write(self._pending)
            self._pending = []
        elif len(self._pending) >= self._batch_size:
            self._queue.put(self._pending)
            self._pending = []

    def close(self) -> dict[FileId, str]:
        """Wait for every file to be written; the sha256 of each by file identity, handed
        over (a digest per file of a large export: the sink keeps none once closed)."""
        if self._queue is not None and self._thread is not None:
            if self._pending:
                self._queue.put(self._pending)
                self._pending = []
            self._queue.put(None)
            self._thread.join()
            self._queue = None
        self._raise_error()
        digests, self._digests = self._digests, {}
        return digests

    def __enter__(self) -> FileSink:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if error is None:
            self.close()
            return
        with contextlib.suppress(Exception):  # the error already on its way is the one to see
            self.close()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _write(self, batch: _Batch) -> None:
        for path, data in batch:
            with _open_new(path) as f:
                f.write(data)
                written = os.fstat(f.fileno())
            self._digests[written.st_dev, written.st_ino] = hashlib.sha256(data).hexdigest()

    def _drain(self) -> None:
        assert self._queue is not None
        while (batch := self._queue.get()) is not None:
            if self._error is None:  # after a failure, take the rest without writing it
                try:
                    self._write(batch)
                except BaseException as error:  # raised in the writer's thread
                    self._error = error


def _open_new(path: str) -> BinaryIO:
    """``path`` opened for writing; its folder is made only when opening says it is missing
    (a nested label folder), so the common case costs one open."""
    try:
        return open(path, "wb")  # noqa: SIM115 (the caller closes it)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return open(path, "wb")  # noqa: SIM115
