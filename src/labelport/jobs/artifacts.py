"""Finished exports in storage through fsspec: a local folder by default, object storage
(``s3://``, ``gs://``, ...) by URL, one code path for all.

An artifact is uploaded under a temporary name and renamed into place; the job records its URI
only after that, so a worker that dies mid-upload leaves nothing a user can download (at most
a ``.partial-`` object, removed by `remove_partials`). Expired artifacts are removed by
`cleanup_expired` (``labelport artifacts cleanup``, and the runners' periodic tick).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import fsspec
from fsspec.core import url_to_fs

from labelport.export.manifest import sha256_file
from labelport.store.jobs import Artifact, now
from labelport.store.repository import Store

PARTIAL = ".partial-"


class ArtifactStorage:
    """Artifacts under one base location (a folder path or an fsspec URL)."""

    def __init__(self, base: str) -> None:
        self.base = base if "://" in base else str(Path(base).expanduser().resolve())
        fs, root = url_to_fs(self.base)
        self.fs: fsspec.AbstractFileSystem = fs
        self.root = root.rstrip("/")

    def upload(self, local: Path, key: str) -> Artifact:
        """Put the file ``local`` at ``key`` (``a/b/name.zip``), atomically as seen by readers."""
        sha256 = sha256_file(local)
        size = local.stat().st_size
        final = f"{self.root}/{key}"
        folder, _, name = final.rpartition("/")
        partial = f"{folder}/{PARTIAL}{uuid.uuid4().hex[:8]}-{name}"
        self.fs.makedirs(folder, exist_ok=True)
        try:
            self.fs.put_file(str(local), partial)
            self._move(partial, final)
        except BaseException:
            self._remove(partial)
            raise
        return Artifact(uri=self._uri(final), name=name, sha256=sha256, size=size)

    def local_path(self, uri: str) -> Path | None:
        """The file behind ``uri`` when it is on this machine's disk (served as it is)."""
        return Path(self._path(uri)) if "file" in self._protocols else None

    @contextmanager
    def open(self, uri: str) -> Iterator[IO[Any]]:
        with self.fs.open(self._path(uri), "rb") as f:
            yield f

    def download(self, uri: str, target: Path) -> None:
        with self.open(uri) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)

    def delete(self, uri: str) -> None:
        self._remove(self._path(uri))

    def exists(self, uri: str) -> bool:
        return bool(self.fs.exists(self._path(uri)))

    def _move(self, source: str, target: str) -> None:
        """``source`` renamed ``target``, both by their literal names (fsspec's ``mv`` and
        ``rm`` read ``[``, ``*``, ``?`` as a pattern, and its local ``mv`` moves into a folder
        in the way): a rename on disk, elsewhere a copy then a delete (object stores have no
        rename)."""
        if "file" in self._protocols:
            os.replace(source, target)
        else:
            self.fs.cp_file(source, target)
            self.fs.rm_file(source)

    def _remove(self, path: str) -> None:
        if self.fs.exists(path):
            self.fs.rm_file(path)

    def _path(self, uri: str) -> str:
        _, path = url_to_fs(uri)
        return str(path)

    @property
    def _protocols(self) -> tuple[str, ...]:
        protocol = self.fs.protocol
        return (protocol,) if isinstance(protocol, str) else tuple(protocol)

    def _uri(self, path: str) -> str:
        return path if "file" in self._protocols else f"{self._protocols[0]}://{path}"

    def remove_partials(self) -> int:
        """Remove uploads that a dead worker left half done; the number removed."""
        found = [p for p in self.fs.find(self.root) if p.rpartition("/")[2].startswith(PARTIAL)]
        for path in found:
            self._remove(path)
        return len(found)


def cleanup_expired(store: Store, storage: ArtifactStorage, at: datetime | None = None) -> int:
    """Remove artifacts whose expiry passed; their jobs stay in the history, not downloadable.
    Returns how many were removed."""
    expired = store.jobs.expired(at or now())
    for job_id, uri in expired:
        storage.delete(uri)
        store.jobs.forget_artifact(job_id)
    return len(expired)
