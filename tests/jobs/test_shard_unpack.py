"""A shard's archive unpacked for the merge: small files written from memory with their
sha256 noted by inode (what the merged export's checksums reuse), a file over the in-memory
limit streamed, the manifest read, not written; the sums noted are the files' own."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import orjson

from labelport.export.manifest import MANIFEST_NAME, file_checksums
from labelport.jobs import shards


def test_unpack_writes_every_file_and_notes_the_sums_of_small_ones(tmp_path: Path) -> None:
    files = {"labels/train/a.txt": b"0 0.5 0.5 0.1 0.1\n", "labels/train/b.txt": b"",
             "data.yaml": b"nc: 1\n", "annotations/big.json": os.urandom(3 << 20)}
    archive = tmp_path / "shard.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST_NAME, orjson.dumps({"counts": {"items": 2}}))
        zf.writestr("labels/", b"")
        for name, data in files.items():
            zf.writestr(name, data)
    root = tmp_path / "root"

    manifest, unpacked = shards._unpack(archive, root)

    assert manifest == {"counts": {"items": 2}}
    assert not (root / MANIFEST_NAME).exists()
    assert {name: (root / name).read_bytes() for name in files} == files
    assert set(unpacked) == set(files) - {"annotations/big.json"}  # streamed: hashed later
    for name, (inode, sha256) in unpacked.items():
        stat = (root / name).stat()
        assert inode == (stat.st_dev, stat.st_ino)
        assert sha256 == hashlib.sha256(files[name]).hexdigest()
    known = dict(unpacked.values())
    assert file_checksums(root, known=known) == file_checksums(root)
