"""Packing a large file into the archive's form while it is written, so that deflating it
overlaps with whatever computes its bytes (a sharded export's merge shifting ids).

Within `prepacking` (the caller is about to package ``folder`` as a zip without a password),
`archive_file` opens a file for writing that also hashes it and, once it passes the size from
which the packager deflates on several cores (`package.PARALLEL_FROM`), feeds it to a one-entry
zip written as `package.write_archive` would write that entry. The packager then copies that
entry's bytes as they are (`package.Entry.member`) instead of deflating the file again after
the writer is done. A file that stays small, or grows past what a zip entry holds without
zip64 fields, is left to the packager; the archive's bytes are the same either way.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import IO

from labelport.export import package
from labelport.export.package import Entry, archive_entry_name, zip_entry_writer

FileState = tuple[int, int, int, int]
"""``(st_dev, st_ino, st_size, st_mtime_ns)``: the file as it was packed; a file removed,
replaced or written again since no longer matches, and is packed by the packager."""


def _state(path: Path) -> FileState | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns


@dataclass(frozen=True, slots=True)
class Prepacked:
    """A file of the folder, packed: a one-entry zip holding it, the file as it was packed
    (`FileState`) and its sha256."""

    archive: Path
    state: FileState
    sha256: str


@dataclass(slots=True)
class Prepacking:
    """The files of ``folder`` packed as they were written, by archive entry name."""

    folder: Path
    scratch: Path
    files: dict[str, Prepacked] = field(default_factory=dict)
    opened: Iterator[int] = field(default_factory=count)

    def digests(self) -> dict[tuple[int, int], str]:
        """The packed files' sha256 by file identity (`manifest.file_checksums`'s ``known``),
        of those still as they were packed."""
        return {packed.state[:2]: packed.sha256 for name in self.files
                if (packed := self._current(name)) is not None}

    def entry(self, entry: Entry, stack: ExitStack) -> Entry:
        """``entry`` (a file of the folder), taking its packed bytes when it has them and the
        file is as it was packed; the packed zip stays open until ``stack`` closes."""
        packed = self._current(entry.name)
        if packed is None:
            return entry
        archive = stack.enter_context(zipfile.ZipFile(packed.archive))
        return Entry(name=entry.name, is_dir=False, size=entry.size, open=entry.open,
                     member=(archive, archive.getinfo(entry.name)))

    def _current(self, name: str) -> Prepacked | None:
        """The file ``name`` packed, if the folder still holds it as it was packed."""
        packed = self.files.get(name)
        if packed is None or _state(self.folder / name) != packed.state:
            return None
        return packed


_SAVES_AHEAD = 8
"""Writes handed to the saving thread and not yet done, at most (a few megabytes)."""
_active: ContextVar[Prepacking | None] = ContextVar("labelport_prepacking", default=None)


@contextmanager
def prepacking(folder: Path, scratch: Path) -> Iterator[Prepacking]:
    """Pack the large files `archive_file` writes under ``folder`` (the one-entry zips go in
    ``scratch``) until the block ends."""
    scratch.mkdir(parents=True, exist_ok=True)
    state = Prepacking(folder=folder, scratch=scratch)
    token = _active.set(state)
    try:
        yield state
    finally:
        _active.reset(token)


@contextmanager
def archive_file(path: Path) -> Iterator[IO[bytes]]:
    """``path`` opened for writing (replaced); packed as it is written within `prepacking`."""
    state = _active.get()
    if state is None or not path.is_relative_to(state.folder):
        with path.open("wb") as f:
            yield f
        return
    name = archive_entry_name(path.relative_to(state.folder).as_posix())
    with path.open("wb") as f, _Packer(f, state, name) as packer:
        yield packer  # type: ignore[misc]  # a writer: write() is all writers call
    packer.seal(path)


class _Packer:
    """Packs from `package.PARALLEL_FROM` bytes on; the file's writes and hashing run on a
    thread of their own, in order (both release the GIL), so the caller's thread only computes
    the bytes and hands them over."""

    def __init__(self, file: IO[bytes], state: Prepacking, name: str) -> None:
        self._file, self._packing, self._name = file, state, name
        self._digest = hashlib.sha256()
        self._saving = ThreadPoolExecutor(1, thread_name_prefix="labelport-prepack")
        self._saved: deque[Future[None]] = deque()
        self._head = bytearray()
        self._size = 0
        self._stack = ExitStack()
        self._sink: IO[bytes] | None = None
        self._archive = state.scratch / f"{next(state.opened)}.zip"

    def __enter__(self) -> _Packer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            with self._stack:  # closes the entry (its header completed) and the zip
                self._wait(0)
        finally:
            self._saving.shutdown(wait=True)
        if kind is not None or not self._packed():
            self._archive.unlink(missing_ok=True)

    def seal(self, path: Path) -> None:
        """Record the packed file, once closed (its size and time final)."""
        found = _state(path)
        if self._packed() and found is not None:
            self._packing.files[self._name] = Prepacked(self._archive, found,
                                                      self._digest.hexdigest())

    def _packed(self) -> bool:
        """Whether the zip holds the whole file (not too small, not too large for it)."""
        return self._sink is not None and self._size * 1.05 <= zipfile.ZIP64_LIMIT

    def write(self, data: bytes | bytearray | memoryview) -> int:
        data = data if isinstance(data, bytes) else bytes(data)  # the thread keeps it
        self._saved.append(self._saving.submit(self._save, data))
        self._wait(_SAVES_AHEAD)
        self._size += len(data)
        if self._sink is None:
            self._head += data
            if len(self._head) >= package.PARALLEL_FROM:
                self._open()
        elif self._packed():  # past zip64's size: left to the packager
            self._sink.write(data)
        return len(data)

    def _save(self, data: bytes) -> None:
        self._file.write(data)
        self._digest.update(data)

    def _wait(self, ahead: int) -> None:
        """Until at most ``ahead`` writes wait (a failed one raised here)."""
        while len(self._saved) > ahead or (self._saved and self._saved[0].done()):
            self._saved.popleft().result()

    def _open(self) -> None:
        archive = self._stack.enter_context(zipfile.ZipFile(self._archive, "w",
                                                            allowZip64=True))
        entry = Entry(name=self._name, is_dir=False, size=len(self._head))
        self._sink = self._stack.enter_context(zip_entry_writer(archive, entry))
        self._sink.write(self._head)
        self._head = bytearray()
