"""COCO panoptic: one RGB PNG per image whose colour is the segment id, and one JSON per split
describing the segments, as `panopticapi` (``cocodataset/panopticapi``) reads and checks them.

Layout::

    annotations/panoptic_<split>.json          info, licenses, images, annotations, categories
    annotations/panoptic_<split>/<stem>.png    RGB: segment id = R + 256 G + 256^2 B, 0 void
    images/<split>/<file name>                 with media copied or linked

One annotation (per image)::

    {"image_id": 2, "file_name": "yard_002.png",
     "segments_info": [{"id": 1, "category_id": 5, "area": 14000, "bbox": [20, 20, 161, 121],
                        "iscrowd": 0}, ...]}

Conventions:
- Category ids are the class's position in the schema, from 1 (as the ``coco`` format), every
  class listed; ``supercategory`` is the class's parent (empty without one); ``color`` its
  colour (the VOC palette's for a class without one). ``isthing`` is 1 for classes with
  instances and 0 for "stuff": by default a class whose schema geometry is ``mask`` (regions
  painted with a brush: road, sky) is stuff and every other class a thing; option ``stuff``
  names the stuff classes instead (comma-separated; ``none`` for no stuff).
- Segment ids are 1..N per image: each thing object is its own segment, all objects of one stuff
  class on an image are one segment (panoptic allows one segment per stuff class), numbered in
  annotation order. ``area`` is the segment's pixel count and ``bbox`` (``x, y, w, h``, whole
  pixels) its tight box, both measured on the PNG after painting; ``iscrowd`` is the
  annotation's crowd flag (0 for stuff). Image ids are 1-based per split.
- Pixels follow pycocotools' rasteriser, holes stay holes, overlaps are resolved by z-order
  (the higher ``z_order`` on top, then the later annotation) (`labelport.formats._shared.raster`); a
  segment left with no visible pixel is not written (counted). Polylines, keypoints and
  image-level classes are not written (counted), nor are scores, attributes and image
  classifications. Every image gets a PNG, all black (void) without objects.
- ``images[].file_name`` is the image's name inside ``images/<split>/``, or its absolute path
  or URL with ``--paths absolute``.

Reading takes the export folder (or an ``annotations`` folder) with one or more
``panoptic_<split>.json``: each segment becomes one `Mask` (its category's class, ``crowd``
from ``iscrowd``, ``instance_id`` = the segment id for things). Segments are checked as
panopticapi does: a segment id the PNG lacks, or a colour in the PNG no segment names, is an
error. Items get dataset ``default``, the file name as path, the split of their JSON, and media
from the ``images`` option or ``images/<split>/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import msgspec
import numpy as np
import orjson

from labelport.domain.geometry import GeometryKind
from labelport.domain.masks import bitmap_to_rle
from labelport.domain.model import DEFAULT_DATASET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.image_files import readable_file, reference_name
from labelport.formats._shared.input_files import read_bytes
from labelport.formats._shared.json_input import convert, decode_json
from labelport.formats._shared.naming import FileNamer, safe_file_name
from labelport.formats._shared.raster import (
    AREA_KINDS,
    PngOut,
    RasterJob,
    RasterObject,
    class_colors,
    raster_objects,
    read_png,
    render_all,
    rgb_to_id,
)
from labelport.formats._shared.shard_merge import write_lines
from labelport.formats.base import Conventions, FormatSpec, OptionSpec, WriteContext
from labelport.formats.coco._merge import merge_split_files

ANNOTATIONS_DIR = "annotations"
IMAGES_DIR = "images"
DEFAULT_SPLIT = "train"
_PROGRESS_EVERY = 100

Json = dict[str, Any]


def stuff_classes(schema: LabelSchema, option: str) -> frozenset[str]:
    """The classes written as stuff (``isthing: 0``): option ``stuff`` (``auto``: classes whose
    geometry is a mask; ``none``; or comma-separated names, each in the schema)."""
    if option == "auto":
        return frozenset(c.name for c in schema.classes if c.geometry is GeometryKind.MASK)
    if option == "none":
        return frozenset()
    names = frozenset(n.strip() for n in option.split(",") if n.strip())
    unknown = sorted(n for n in names if schema.get(n) is None)
    if unknown:
        raise UnsupportedError(f"coco_panoptic option stuff names classes the schema does not "
                               f"have: {', '.join(unknown)}; classes: "
                               f"{', '.join(schema.class_names)}")
    return names


def categories_json(schema: LabelSchema, stuff: frozenset[str]) -> list[Json]:
    return [{"id": i, "name": c.name, "supercategory": c.parent or "",
             "isthing": int(c.name not in stuff), "color": list(rgb)}
            for i, (c, rgb) in enumerate(zip(schema.classes, class_colors(schema), strict=True),
                                         start=1)]


def segment_ids(objects: list[RasterObject], stuff_indices: frozenset[int]) -> list[int]:
    """Each object's segment id: things 1..N in annotation order, one id per stuff class shared
    by all its objects (numbered where the class first appears)."""
    ids: dict[object, int] = {}
    for o in sorted(objects, key=lambda o: o.instance):
        key = ("stuff", o.class_index) if o.class_index in stuff_indices else o.instance
        ids.setdefault(key, len(ids) + 1)
    return [ids[("stuff", o.class_index) if o.class_index in stuff_indices else o.instance]
            for o in objects]


# --- writing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Split:
    images: IO[bytes]
    annotations: IO[bytes]
    image_id: int = 0


@dataclass(slots=True)
class _Writer:
    out_dir: Path
    spool_dir: Path
    schema: LabelSchema
    stuff: frozenset[int]
    ctx: WriteContext
    splits: dict[str, _Split] = field(default_factory=dict)
    namer: FileNamer = field(init=False)

    def __post_init__(self) -> None:
        self.namer = FileNamer(unique_stems=True, report=self.ctx.report)

    def split(self, name: str) -> _Split:
        if name not in self.splits:
            n = len(self.splits)
            self.splits[name] = _Split(images=(self.spool_dir / f"{n}.images").open("wb"),
                                       annotations=(self.spool_dir / f"{n}.ann").open("wb"))
        return self.splits[name]

    def job(self, record: ItemRecord) -> tuple[tuple[_Split, Json, list[Json]], RasterJob]:
        item = record.item
        split_name = safe_file_name(record.split or DEFAULT_SPLIT)
        split = self.split(split_name)
        split.image_id += 1
        file_name = self.namer.name(item, split_name)
        target = self.out_dir / IMAGES_DIR / split_name / file_name
        self.ctx.place_media(item, target)
        split.images.write(orjson.dumps({
            "id": split.image_id, "width": item.width, "height": item.height,
            "file_name": self.ctx.media_reference(item, target, file_name)}) + b"\n")
        png = f"{PurePosixPath(file_name).stem}.png"
        objects = raster_objects(record, self.schema, ctx=self.ctx)
        ids = segment_ids(objects, self.stuff)
        segments: dict[int, Json] = {}
        for o, sid in sorted(zip(objects, ids, strict=True), key=lambda p: p[1]):
            is_stuff = o.class_index in self.stuff
            segment = segments.setdefault(sid, {"id": sid, "category_id": o.class_index + 1,
                                                "iscrowd": 0})
            if o.annotation.crowd and not is_stuff:
                segment["iscrowd"] = 1
            elif o.annotation.crowd:
                self.ctx.report.count("not written: crowd flag of a stuff class")
        annotation = {"image_id": split.image_id, "file_name": png}
        job = RasterJob(height=item.height, width=item.width,
                        geometries=tuple(o.geometry for o in objects),
                        outputs=(PngOut(path=self.out_dir / ANNOTATIONS_DIR /
                                        f"panoptic_{split_name}" / png,
                                        values=tuple(ids), encoding="rgb_id"),))
        return (split, annotation, list(segments.values())), job

    def merge(self, categories: list[Json], project: ProjectInfo) -> None:
        for name, split in self.splits.items():
            with (self.out_dir / ANNOTATIONS_DIR / f"panoptic_{name}.json").open("wb") as f:
                f.write(b'{"info": ' + orjson.dumps({"description": project.name}) +
                        b',\n"licenses": [],\n"categories": ' + orjson.dumps(categories))
                for key, spool in (("images", split.images),
                                   ("annotations", split.annotations)):
                    spool.close()
                    f.write(b',\n"' + key.encode() + b'": [')
                    with open(spool.name, "rb") as lines:
                        write_lines(f, lines)
                    f.write(b"\n]")
                f.write(b"}\n")


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """Each split's JSON from the shards' (`labelport.formats.coco._merge`): image ids
    shifted by the images of the shards before, segment ids kept (they are per image, as in
    the PNGs, which merge by copying)."""
    return merge_split_files(shards, out, pattern="panoptic_*.json",
                             annotation_ids=("image_id",))


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """One PNG per image as records stream; each split's JSON spooled and merged at the end."""
    schema = source.schema
    stuff = stuff_classes(schema, str(options.get("stuff", "auto")))
    (out_dir / ANNOTATIONS_DIR).mkdir(parents=True, exist_ok=True)
    spool_dir = out_dir / ".panoptic-spool"
    spool_dir.mkdir(exist_ok=True)
    writer = _Writer(out_dir=out_dir, spool_dir=spool_dir, schema=schema, ctx=ctx,
                     stuff=frozenset(schema.index_of(n) for n in stuff))

    def jobs() -> Iterator[tuple[tuple[_Split, Json, list[Json]], RasterJob]]:
        done = 0
        for done, record in enumerate(source.records(), start=1):
            yield writer.job(record)
            if done % _PROGRESS_EVERY == 0:
                ctx.progress(done)
        ctx.progress(done)

    try:
        for (split, annotation, segments), results in render_all(
                jobs(), workers=options.get("workers", 0)):
            visible = results[0]
            kept = []
            for segment in segments:
                seen = visible.get(segment["id"])
                if seen is None or seen.box_xywh is None:
                    ctx.report.count("not written: segment with no visible pixel (hidden under "
                                     "others or too thin)")
                    continue
                kept.append({**segment, "area": seen.pixels, "bbox": list(seen.box_xywh)})
            annotation["segments_info"] = kept
            split.annotations.write(orjson.dumps(annotation) + b"\n")
        if not writer.splits:
            writer.split(DEFAULT_SPLIT)
        writer.merge(categories_json(schema, stuff), source.project)
    finally:
        for split in writer.splits.values():
            split.images.close()
            split.annotations.close()
        shutil.rmtree(spool_dir, ignore_errors=True)


# --- reading ---------------------------------------------------------------------------------


class _Segment(msgspec.Struct):
    id: int
    category_id: int
    iscrowd: int = 0


class _Annotation(msgspec.Struct):
    image_id: int
    file_name: str
    segments_info: list[_Segment]


class _Image(msgspec.Struct):
    id: int
    file_name: str
    width: int
    height: int


class _Category(msgspec.Struct):
    id: int
    name: str
    supercategory: str = ""
    isthing: int = 1
    color: list[int] | None = None


class _Panoptic(msgspec.Struct):
    images: list[_Image]
    annotations: list[_Annotation]
    categories: list[_Category]


def _segments(path: Path, annotation: _Annotation, names: Mapping[int, str],
              things: frozenset[int]) -> list[Annotation]:
    """panopticapi's checks (``pq_compute.py``): every segment is in the PNG, every colour of
    the PNG is a segment (0 is void), ids are unique, categories are known."""
    ids = rgb_to_id(read_png(path, ("RGB",)))
    listed = [s.id for s in annotation.segments_info]
    if len(set(listed)) != len(listed):
        raise InputError(f"{path}: segments_info lists a segment id twice")
    present = set(np.unique(ids).tolist()) - {0}
    if present - set(listed):
        raise InputError(f"{path}: segment ids {sorted(present - set(listed))} are in the PNG "
                         "but not in segments_info")
    out: list[Annotation] = []
    for segment in annotation.segments_info:
        if segment.category_id not in names:
            raise InputError(f"{path}: segment {segment.id} has category_id "
                             f"{segment.category_id}, which no category has")
        if segment.id not in present:
            raise InputError(f"{path}: segment {segment.id} of segments_info is not in the PNG")
        out.append(Annotation(label=names[segment.category_id],
                              geometry=bitmap_to_rle(ids == segment.id),
                              crowd=bool(segment.iscrowd),
                              instance_id=segment.id if segment.category_id in things else None))
    return out


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    root = Path(path)
    folder = root / ANNOTATIONS_DIR if (root / ANNOTATIONS_DIR).is_dir() else root
    files = sorted(folder.glob("panoptic_*.json"))
    if not files:
        raise InputError(f"{root}: expected {ANNOTATIONS_DIR}/panoptic_<split>.json")
    given = options.get("images")
    parsed = [(f, convert(decode_json(read_bytes(f), f), _Panoptic, f)) for f in files]
    classes: dict[int, LabelClass] = {}
    for _, panoptic in parsed:
        for c in panoptic.categories:
            color = ("#{:02x}{:02x}{:02x}".format(*c.color[:3])
                     if c.color and len(c.color) >= 3 else None)
            classes.setdefault(c.id, LabelClass(
                id=c.id, name=c.name, parent=c.supercategory or None, color=color,
                geometry=GeometryKind.POLYGON if c.isthing else GeometryKind.MASK))
    names = {i: c.name for i, c in classes.items()}
    things = frozenset(i for i, c in classes.items() if c.geometry is GeometryKind.POLYGON)
    for f, panoptic in parsed:
        images = {image.id for image in panoptic.images}
        for k, annotation in enumerate(panoptic.annotations):
            if annotation.image_id not in images:
                raise InputError(f"{f}: at $.annotations[{k}].image_id: no image has id "
                                 f"{annotation.image_id}")
            png = f.with_suffix("") / annotation.file_name
            if not readable_file(png):
                raise InputError(f"{f}: at $.annotations[{k}].file_name: {png} does not exist")

    def records() -> Iterator[ItemRecord]:
        for f, panoptic in parsed:
            split = f.stem.removeprefix("panoptic_")
            by_image = {a.image_id: a for a in panoptic.annotations}
            for image in panoptic.images:
                name = reference_name(image.file_name)
                media = next((p for p in (Path(given) / name if given else None,
                                          root / IMAGES_DIR / split / name)
                              if p and readable_file(p)), None)
                annotation = by_image.get(image.id)
                segments = ([] if annotation is None else
                            _segments(f.with_suffix("") / annotation.file_name, annotation,
                                      names, things))
                item = Item(dataset=DEFAULT_DATASET, path=name, width=image.width,
                            height=image.height,
                            media_uri=str(media.absolute()) if media else None)
                yield ItemRecord(item=item, annotations=tuple(segments), split=split)

    return StreamSource(project=ProjectInfo(name=root.name),
                        schema=LabelSchema(classes=tuple(classes.values())),
                        count=sum(len(p.images) for _, p in parsed), open_records=records)


SPEC = FormatSpec(
    name="coco_panoptic",
    title="COCO panoptic (PNG + JSON)",
    extension="json",
    geometries=AREA_KINDS,
    conventions=Conventions(
        coordinates="pixels of the image's size, rasterised by pycocotools",
        index_base="category ids from 1 in schema order; segment ids 1..N per image",
        ids="segment id = R + 256 G + 256^2 B; image ids 1-based per split",
        notes="isthing 0 for mask-geometry classes (option stuff); one segment per stuff "
              "class per image; area and bbox from the PNG's pixels; higher z_order on top",
    ),
    splits=True,
    media=True,
    options=(
        OptionSpec(name="stuff", type=str, default="auto",
                   help="stuff classes (isthing 0): auto (mask-geometry classes), none, or "
                        "comma-separated class names"),
        OptionSpec(name="workers", type=int, default=0,
                   help="threads that rasterise and encode PNGs (0: one per CPU, at most 8)"),
    ),
    writer=write,
    reader=read,
    merge_shards=merge_shards,
)
