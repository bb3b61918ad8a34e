"""The Segments.ai SDK (``segments-ai``) loads our ``segments`` bitmap release of the sample
project with ``SegmentsDataset``, as a user of a release does: the export is served over HTTP on
the loopback (a release's URLs are web addresses) and the SDK fetches every image and bitmap
and decodes the bitmaps its own way. Each object's pixels (the bitmap's pixels of its id),
category and the image's size are compared with the store.

The SDK runs in its side venv (``LABELPORT_SEGMENTS_PYTHON``; see tests/side_python.py), with
its cache off: its cache writes the decoded ids back as a PNG, which Pillow 12 and newer refuse.
The copied rule in test_segments.py stays as a fast unit test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.formats.stored_sample import pixel_digest, stored_sample, visible_pixels
from tests.side_python import SEGMENTS, run_side

from labelport.domain.model import DEFAULT_LABELSET
from labelport.domain.source import MemorySource
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats.registry import get_format

_SCRIPT = """
import functools, hashlib, http.server, json, os, sys, threading
import numpy as np
from segments import SegmentsDataset

root, labelset = sys.argv[1], sys.argv[2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{server.server_port}/"
with open(os.path.join(root, "release.json"), encoding="utf-8") as f:
    release = json.load(f)
for sample in release["dataset"]["samples"]:  # the release as served: URLs, not file paths
    sample["attributes"]["image"]["url"] = base + sample["attributes"]["image"]["url"]
    for label in sample["labels"].values():
        if label is not None and label["attributes"].get("segmentation_bitmap"):
            bitmap = label["attributes"]["segmentation_bitmap"]
            bitmap["url"] = base + bitmap["url"]
with open("release.json", "w", encoding="utf-8") as f:
    json.dump(release, f)

def digest(pixels):  # tests.formats.stored_sample.pixel_digest
    return [float(pixels.sum()),
            float(int.from_bytes(hashlib.sha1(np.packbits(pixels).tobytes()).digest()[:6], "big"))]

dataset = SegmentsDataset("release.json", labelset=labelset, segments_dir=None)
found = {}
for sample in dataset:
    bitmap = sample["segmentation_bitmap"]
    found[sample["name"]] = {
        "image_hw": [sample["image"].height, sample["image"].width],
        "bitmap_hw": None if bitmap is None else list(bitmap.shape),
        "ids": None if bitmap is None else sorted(int(v) for v in np.unique(bitmap) if v),
        "objects": [{"category_id": a["category_id"],
                     "pixels": digest(np.asarray(bitmap) == a["id"])}
                    for a in sample["annotations"] or []]}
server.shutdown()
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return stored_sample(tmp_path_factory.mktemp("stored"))


def test_segments_sdk_loads_every_image_and_object(stored: MemorySource,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "segments"
    run_export(stored, get_format("segments"), out, media=MediaMode.COPY)
    found: dict[str, Any] = run_side(SEGMENTS, _SCRIPT, str(out), DEFAULT_LABELSET)
    names = {c.id: c.name for c in stored.schema.classes}
    assert sorted(found) == sorted(r.item.file_name for r in stored.records())
    compared = 0
    for record in stored.records():
        theirs = found[record.item.file_name]
        size = [record.item.height, record.item.width]
        assert theirs["image_hw"] == size, record.item.path
        ours = sorted((label, list(pixel_digest(pixels)))
                      for label, pixels in visible_pixels(record))
        if ours:
            assert theirs["bitmap_hw"] == size, record.item.path
            assert len(theirs["ids"]) == len(theirs["objects"]) == len(ours), record.item.path
        got = sorted((names[o["category_id"]], o["pixels"]) for o in theirs["objects"])
        assert got == ours, record.item.path
        compared += len(ours)
    assert compared >= 8
