"""Innotescus' mask export for videos: ``innotescus_video_masks``.

Layout (the Innotescus seed's "Mask Annotations on Video")::

    classes.txt                 for every video: "file: <video>", then "<value> <class>" rows
    <video>/masks/<n>.png       a semantic label map of frame n
    <video>/frames/<n>.png      frame n itself (with --media copy or symlink)

``<video>`` is the video's file stem (made unique) and ``n`` the zero-based frame index, so a
frame and its mask share a file name. Every frame on which an object is visible gets a mask (the
tracks interpolated between keyframes, `labelport.domain.tracks`); a mask is 8-bit grey with
pixel = class index + 1 in the schema's order and 0 background, painted by the one rasteriser
(`labelport.formats._shared.raster`: pycocotools' rule, holes kept, higher ``z_order`` on top).
``classes.txt`` lists, per video, the values its masks use. Images, polylines, keypoints,
image-level classes, attributes and scores are counted and not written; more than 255 classes
are refused. There is no reader: label maps do not say which pixels were one track."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import groupby
from pathlib import Path
from typing import Any

from labelport.domain.frames import FrameItem, frame_item_path
from labelport.domain.geometry import GeometryKind
from labelport.domain.model import Item, ItemRecord
from labelport.domain.source import ExportSource
from labelport.domain.tracks import on_every_frame
from labelport.formats._shared.naming import FileNamer
from labelport.formats._shared.raster import (
    PngOut,
    RasterJob,
    check_class_count,
    raster_objects,
    render_all,
)
from labelport.formats.base import Conventions, FormatSpec, WriteContext

CLASSES_FILE = "classes.txt"
MASKS_DIR = "masks"
FRAMES_DIR = "frames"


def _frame_item(video: Item, frame: int) -> FrameItem:
    return FrameItem(dataset=video.dataset, path=frame_item_path(video.path, frame),
                     width=video.width, height=video.height, media_uri=video.media_uri,
                     video_path=video.path, frame_index=frame,
                     rotation_deg=video.video.rotation_deg if video.video else 0)


def _frames(record: ItemRecord, ctx: WriteContext) -> Iterator[ItemRecord]:
    """A record per frame on which an object is visible, in frame order."""
    framed, unframed = on_every_frame(record.annotations, frame_count=record.item.frame_count)
    if unframed:
        ctx.report.count("not written: annotation without a frame on a video", len(unframed))
    for frame, objects in groupby(framed, key=lambda a: a.frame or 0):
        yield ItemRecord(item=_frame_item(record.item, frame), annotations=tuple(objects))


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Label maps of every labelled frame, one video at a time; PNGs are encoded by the
    rasteriser's thread pool (`render_all`) while the next frames are painted."""
    schema = source.schema
    check_class_count(schema, limit=255, format_name="innotescus_video_masks")
    names = schema.class_names
    out_dir.mkdir(parents=True, exist_ok=True)
    namer = FileNamer(unique_stems=True)

    def jobs() -> Iterator[tuple[tuple[str, int, list[tuple[int, str]]], RasterJob]]:
        done = 0
        for done, record in enumerate(source.records(), start=1):
            if not record.item.is_video:
                ctx.report.count("not written: image item (innotescus_video_masks holds "
                                 "videos)")
                continue
            video = Path(namer.name(record.item)).stem
            for frame in _frames(record, ctx):
                index = frame.item.frame_index if isinstance(frame.item, FrameItem) else 0
                ctx.place_media(frame.item, out_dir / video / FRAMES_DIR / f"{index}.png")
                objects = raster_objects(frame, schema, ctx=ctx)
                rows = sorted({(o.class_index + 1, names[o.class_index]) for o in objects})
                mask = PngOut(path=out_dir / video / MASKS_DIR / f"{index}.png",
                              values=tuple(o.class_index + 1 for o in objects))
                yield (video, index, rows), RasterJob(
                    height=frame.item.height, width=frame.item.width,
                    geometries=tuple(o.geometry for o in objects), outputs=(mask,))
            ctx.progress(done)
        ctx.progress(done)

    used: dict[str, set[tuple[int, str]]] = {}
    for (video, _index, rows), results in render_all(jobs(), workers=options.get("workers", 0)):
        visible = results[0] if results else {}
        used.setdefault(video, set()).update(row for row in rows if row[0] in visible)
    with (out_dir / CLASSES_FILE).open("w", encoding="utf-8", newline="\n") as classes:
        for video, kept in used.items():
            classes.write(f"file: {video}\n")
            classes.writelines(f"{value} {name}\n" for value, name in sorted(kept))


SPEC = FormatSpec(
    name="innotescus_video_masks",
    title="Innotescus video masks (classes.txt, <video>/masks/<n>.png, <video>/frames/<n>.png)",
    extension="png",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.ROTATED_BOX, GeometryKind.POLYGON,
                          GeometryKind.MASK}),
    conventions=Conventions(
        coordinates="label maps at the video's size",
        index_base="frame file names are zero-based frame indices; pixel = class index + 1, "
                   "0 background",
        notes="a semantic label map per labelled frame; classes.txt per video",
    ),
    media=True,
    video=True,
    images=False,
    writer=write,
    unshardable="video format: a video is one item, not worth sharding",
)
