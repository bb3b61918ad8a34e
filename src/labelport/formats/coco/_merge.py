"""Merging the shards of a COCO-style export (`FormatSpec.merge_shards` of ``coco`` and
``coco_panoptic``): one JSON per split, ``{"info": ..., ..., "images": [...],
"annotations": [...]}`` with one image or annotation per line and ids from 1 in each file.

Each split's file is streamed from the shards' in shard order: the first shard's header with
the ``info`` of the latest ``date_created`` of all shards (the first on a tie, as one writer
keeps the first it saw), image ids shifted by the images of the shards before, and the
annotations' ids (their own, their image's) likewise. A shard without items writes an empty
default-split file, which is left out when other splits have images, as one writer leaves it
out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson

from labelport.errors import InputError
from labelport.export.prepack import archive_file
from labelport.formats._shared.shard_merge import (
    IdShift,
    copy_entries,
    latest,
    opened_after,
    read_lines,
    shard_parts,
    until,
)

ANNOTATIONS_DIR = "annotations"
_INFO_LINE = b'{"info": '
_IMAGES_LINE = b'"images": ['
_ANNOTATIONS_LINE = b'"annotations": ['
_IMAGE_IDS = IdShift("id")


def merge_split_files(shards: Sequence[Path], out: Path, *, pattern: str,
                      annotation_ids: tuple[str, ...]) -> list[str]:
    """Merge every ``annotations/{pattern}`` file of the shards; ``annotation_ids`` are the
    integer fields an annotation starts with (``id``: counted across the file, ``image_id``:
    its image's); the merged files' paths."""
    info = _latest_info(shards, pattern)
    found = shard_parts(shards, f"{ANNOTATIONS_DIR}/{pattern}")
    (out / ANNOTATIONS_DIR).mkdir(parents=True, exist_ok=True)
    images: dict[str, int] = {}
    for name, parts in found.items():
        images[name] = _merge_split(parts, out / name, info, IdShift(*annotation_ids),
                                    annotation_ids)
    if any(images.values()):
        for name, n in images.items():
            if not n:
                (out / name).unlink()
    return list(found)


def _latest_info(shards: Sequence[Path], pattern: str) -> bytes:
    infos = [next(read_lines(next((shard / ANNOTATIONS_DIR).glob(pattern))))[len(_INFO_LINE):-1]
             for shard in shards]
    if not infos:
        raise InputError("no shard to merge")
    return infos[latest([orjson.loads(info).get("date_created") for info in infos])]


def _merge_split(parts: list[Path], target: Path, info: bytes, shift: IdShift,
                 keys: tuple[str, ...]) -> int:
    """One split's file from the shards' files; its number of images."""
    with archive_file(target) as f:
        head = read_lines(parts[0])
        next(head)
        f.write(_INFO_LINE + info + b",\n")
        for line in until(head, _IMAGES_LINE, where=parts[0]):
            f.write(line + b"\n")
        f.write(_IMAGES_LINE)
        offsets, images = [], 0
        for part in parts:
            offsets.append(images)
            with opened_after(part, _IMAGES_LINE) as src:
                images = copy_entries(f, src, b"],", written=images, where=part,
                                      shift=_IMAGE_IDS, offsets=(images,))
        f.write(b"\n],\n" + _ANNOTATIONS_LINE)
        annotations = 0
        for part, offset in zip(parts, offsets, strict=True):
            by_key = {"id": annotations, "image_id": offset}
            with opened_after(part, _ANNOTATIONS_LINE) as src:
                annotations = copy_entries(f, src, b"]}", written=annotations, where=part,
                                           shift=shift, offsets=tuple(by_key[k] for k in keys))
        f.write(b"\n]}\n")
    return images
