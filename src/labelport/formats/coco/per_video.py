"""COCO with one file per video, Innotescus' video layout: ``coco_video``.

Layout::

    annotations/<video>.json               one COCO file per video (<video>: its file stem)
    frames/<video>/<frame:06d>.jpg         every frame, with --media copy or symlink

Each file is COCO detection JSON whose images are the video's frames: an image's ``id`` is its
zero-based frame index (Innotescus: "image_id is the zero-based frame number"), with
``file_name`` ``frames/<video>/<frame:06d>.jpg``, the video's ``width`` and ``height``, and
``video`` (the video's path) and ``frame_index``. Annotations are the tracks on every frame on
which they are visible (`labelport.domain.tracks` interpolates between keyframes) and the
shapes annotated on one frame, with ``id`` from 1 in each file, ``image_id`` = the frame, and
``track_id`` = the track's instance id (absent for shapes on no track). Categories, geometry
(boxes ``[x, y, w, h]``, polygons, RLE masks, keypoints), ``area``, ``iscrowd`` and the
out-of-image policy are those of `labelport.formats.coco.instances`; ``attributes`` carries the
annotation's attributes. Images, annotations on a video without a frame, scores' absence of a
model flag and other labelport fields are counted and not written. pycocotools reads each
file (tested). The reader (`labelport.formats.coco._video_reader`) turns each track's shapes
back into keyframes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from labelport.domain.frames import FrameItem, frame_item_path
from labelport.domain.geometry import GeometryKind
from labelport.domain.model import Annotation, ItemRecord
from labelport.domain.source import ExportSource
from labelport.domain.tracks import on_every_frame
from labelport.formats._shared.naming import FileNamer
from labelport.formats.base import Conventions, FormatSpec, WriteContext
from labelport.formats.coco._video_reader import read
from labelport.formats.coco.instances import _instance, categories_json

ANNOTATIONS_DIR = "annotations"
FRAMES_DIR = "frames"

Json = dict[str, Any]


def _objects(record: ItemRecord, ctx: WriteContext) -> list[Annotation]:
    """Every object on every frame, in frame order."""
    framed, unframed = on_every_frame(record.annotations, frame_count=record.item.frame_count)
    if unframed:
        ctx.report.count("not written: annotation without a frame on a video", len(unframed))
    return framed


def _video_file(source: ExportSource, record: ItemRecord, name: str, out_dir: Path,
                ctx: WriteContext) -> Json:
    item = record.item
    frames = item.frame_count or 0
    images = []
    for frame in range(frames):
        file_name = f"{FRAMES_DIR}/{name}/{frame:06d}.jpg"
        images.append({"id": frame, "file_name": file_name, "width": item.width,
                       "height": item.height, "video": item.path, "frame_index": frame})
        ctx.place_media(FrameItem(dataset=item.dataset, path=frame_item_path(item.path, frame),
                                  width=item.width, height=item.height,
                                  media_uri=item.media_uri, video_path=item.path,
                                  frame_index=frame,
                                  rotation_deg=item.video.rotation_deg if item.video else 0),
                        out_dir / file_name)
    category = {c.name: i for i, c in enumerate(source.schema.classes, start=1)}
    annotations: list[Json] = []
    for annotation in _objects(record, ctx):
        frame = annotation.frame or 0
        instance = _instance(annotation.geometry, image_wh=(item.width, item.height), ctx=ctx)
        if instance is None:
            continue
        entry: Json = {"id": len(annotations) + 1, "image_id": frame,
                       "category_id": category[annotation.label], **instance,
                       "iscrowd": int(annotation.crowd)}
        if annotation.instance_id is not None:
            entry["track_id"] = annotation.instance_id
        if annotation.score is not None:
            entry["score"] = annotation.score
        if annotation.attributes:
            entry["attributes"] = dict(annotation.attributes)
        annotations.append(entry)
    return {"info": {"description": f"{source.project.name}: {item.path}"}, "licenses": [],
            "categories": categories_json(source.schema, metadata=False), "images": images,
            "annotations": annotations}


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """One COCO file per video, written as each video comes (a video's file is held in memory:
    its annotations on every frame)."""
    (out_dir / ANNOTATIONS_DIR).mkdir(parents=True, exist_ok=True)
    namer = FileNamer(unique_stems=True)
    done = 0
    for done, record in enumerate(source.records(), start=1):
        if not record.item.is_video:
            ctx.report.count("not written: image item (coco_video holds videos)")
            continue
        name = Path(namer.name(record.item)).stem
        document = _video_file(source, record, name, out_dir, ctx)
        (out_dir / ANNOTATIONS_DIR / f"{name}.json").write_bytes(orjson.dumps(document))
        ctx.progress(done)
    ctx.progress(done)


SPEC = FormatSpec(
    name="coco_video",
    title="COCO, one file per video (Innotescus' video layout)",
    extension="json",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.ROTATED_BOX, GeometryKind.POLYGON,
                          GeometryKind.MASK, GeometryKind.KEYPOINTS}),
    conventions=Conventions(
        coordinates="absolute pixels; bbox [x, y, w, h]",
        index_base="image id = the frame index from 0; annotation and category ids from 1",
        ids="track_id = the track's instance id",
        notes="one COCO file per video under annotations/; every frame is an image; tracks "
              "expanded to every visible frame",
    ),
    attributes=True,
    scores=True,
    media=True,
    video=True,
    images=False,
    writer=write,
    reader=read,
    unshardable="video format: a video is one item, not worth sharding",
)
