"""COCO object detection, segmentation and keypoints: ``coco``.

Layout (one JSON per split; ``images/`` only when media is copied or linked)::

    annotations/instances_train.json
    annotations/instances_val.json
    images/train/street_001.png
    images/val/...

Each JSON holds ``info``, ``licenses`` (empty), ``categories``, ``images`` and ``annotations``,
one image, annotation or category per line so diffs read well. Conventions:

- coordinates are absolute pixels as floats, origin at the top-left corner of the top-left
  pixel (``bbox [0, 0, 1, 1]`` is the first pixel); ``bbox`` is ``[x, y, w, h]``; nothing is
  rounded;
- image, annotation and category ids start at 1 in every file; category ids follow the label
  schema's order, every class is listed (also those without annotations) in every split, and
  ``supercategory`` is the class's parent (``""`` when it has none);
- a polygon is a list of flat ``[x0, y0, x1, y1, ...]`` rings, one per part; a polygon with a
  hole and a mask are COCO compressed RLE (``{"size": [h, w], "counts": str}``, column-major,
  encoded by pycocotools); a ring under 3 points is never written;
- ``area`` is the area of the segmentation: the exact (shoelace) area of a polygon, the pixel
  count of an RLE, ``w * h`` of a box (and of the box around a keypoints annotation);
- ``iscrowd`` is the annotation's crowd flag, whatever the encoding;
- keypoint categories carry ``keypoints`` (names) and a 1-based ``skeleton``; an annotation's
  ``keypoints`` are ``[x, y, v, ...]`` with v = 0 (not labelled, written ``0, 0, 0``), 1
  (occluded), 2 (visible); ``num_keypoints`` counts v > 0; ``bbox`` is the object's own box
  (a COCO person's whole-body box, as read) and, when it has none, the extent of the labelled
  points (the manifest's conventions say so); a keypoints object with a shape (a person's
  outline) writes it as its ``segmentation`` and ``area``; boxes and other keypoints have
  ``"segmentation": []`` (see the ``box_segmentation`` option);
- ``score`` is written for every annotation that has one (predictions);
- ``file_name`` is the image's path inside ``images/{split}/``: the item's path inside its
  dataset with its folders (``cam1/frame_001.jpg``), made unique per split (a second dataset's
  same path gets its dataset in its name, listed in the manifest's ``report.renamed``), the
  same whether or not media is included; with ``--paths absolute`` it is what
  `WriteContext.media_reference` gives instead (an absolute path, or the source's URL);
- ``info`` carries the project name, the labelport version and, as ``date_created``, the
  latest timestamp found in the data (never the clock), so the same data gives the same bytes.

A rotated box is written as its 4-corner polygon (counted as converted; its area is ``w * h``).
Polylines cannot be carried and are counted as not written.

Option ``metadata`` (default true, "COCO + metadata") adds labelport's own fields, which the
reader turns back into the same values:

- on images: ``attributes`` (the item's metadata, verbatim), ``dataset``, ``path`` (and
  ``channels``, ``bit_depth``, ``frame_count`` when known), ``tasks`` (status, assignee,
  reviewer, image classifications, times) and ``image_labels`` (image-level labels, which
  COCO has no annotation for);
- on annotations: ``attributes`` (the annotation's attributes, verbatim, JSON types kept) and
  beside it ``tags``, ``object_id`` (the instance id: FiftyOne's importer reserves
  ``instance_id``; earlier files' ``instance_id`` is still read), ``z_order``, ``annotator``,
  ``labelset``, ``source``, ``frame``, ``lead_time_s``, ``created_at``, ``updated_at`` when
  set, and ``rotated_box`` (``cx, cy, w, h, angle_deg``) for a rotated box; no key FiftyOne
  reserves for its Detection objects (`FIFTYONE_RESERVED` in the tests);
- on categories: ``geometry``, ``color``, ``attributes`` (definitions) and a 1-based
  ``flip_pairs``; the file carries the schema's image ``classifications``.

Without it, image-level labels are counted as not written, and so is the metadata dropped.

Option ``box_segmentation`` (``empty``, the default, or ``polygon``): ``polygon`` writes each
box's (and each keypoints object's without a shape) segmentation as the box's four corners,
clockwise from the top-left one, so pycocotools' ``annToMask``/``annToRLE`` work on every
annotation (they raise ``IndexError`` on ``"segmentation": []``); the reader reads a
segmentation that is exactly its ``bbox``'s outline back as the box.
Reading is documented in `labelport.formats.coco._reader`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from labelport import __version__
from labelport.domain.codec import (
    Json,
    annotation_to_json,
    attribute_def_to_json,
    classification_def_to_json,
    item_to_json,
    task_to_json,
)
from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Keypoints,
    Mask,
    NoGeometry,
    Polygon,
    PolygonPart,
    Polyline,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import area, bounding_box, rotated_box_corners
from labelport.domain.model import DEFAULT_LABELSET, Annotation, ItemRecord, Source
from labelport.domain.moments import assume_utc
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource
from labelport.formats._shared.geometry import fit_to_image
from labelport.formats._shared.naming import FileNamer
from labelport.formats._shared.shard_merge import write_entries, write_lines
from labelport.formats.base import Conventions, FormatSpec, OptionSpec, WriteContext
from labelport.formats.coco._merge import merge_split_files
from labelport.formats.coco._reader import INSTANCE_ID_KEY, box_outline, read

BOX_SEGMENTATIONS = ("empty", "polygon")
ANNOTATIONS_DIR = "annotations"
IMAGES_DIR = "images"
DEFAULT_SPLIT = "train"
_PROGRESS_EVERY = 256

_NATIVE_KEYS = frozenset({"label", "geometry", "attributes", "score", "crowd"})
"""Fields of an annotation COCO carries in its own keys; the rest are labelport's extras."""
_ITEM_KEYS = frozenset({"width", "height", "media_uri", "metadata", "id"})
"""Fields of an item the image entry carries otherwise (or never: the store id, local URIs)."""


def annotation_file(split: str) -> str:
    return f"{ANNOTATIONS_DIR}/instances_{split}.json"


# --- pure conversions ---------------------------------------------------------------------------


def xywh(box: Box) -> list[float]:
    return [float(box.x), float(box.y), float(box.w), float(box.h)]


def categories_json(schema: LabelSchema, *, metadata: bool) -> list[Json]:
    """One category per class, ids 1..N in the schema's order."""
    return [_category(c, i, metadata=metadata) for i, c in enumerate(schema.classes, start=1)]


def _category(c: LabelClass, category_id: int, *, metadata: bool) -> Json:
    out: Json = {"id": category_id, "name": c.name, "supercategory": c.parent or ""}
    if c.keypoint_names:
        out["keypoints"] = list(c.keypoint_names)
        out["skeleton"] = [[a + 1, b + 1] for a, b in c.skeleton]
    if metadata:
        out["geometry"] = c.geometry.value
        if c.color:
            out["color"] = c.color
        if c.attributes:
            out["attributes"] = [attribute_def_to_json(a) for a in c.attributes]
        if c.flip_pairs:
            out["flip_pairs"] = [[a + 1, b + 1] for a, b in c.flip_pairs]
    return out


def rle_json(mask: Mask) -> Json:
    return {"size": [mask.height, mask.width], "counts": mask.counts}


def box_instance(box: Box, *, box_segmentation: str = "empty") -> Json:
    """A box; with ``box_segmentation="polygon"`` its segmentation is `box_outline`, so
    pycocotools' mask helpers (``annToMask``) work on it, as they do not on ``[]``."""
    segmentation = [box_outline(box)] if box_segmentation == "polygon" else []
    return {"segmentation": segmentation, "area": float(box.w * box.h), "bbox": xywh(box)}


def polygon_instance(polygon: Polygon, *, image_wh: tuple[int, int]) -> Json:
    """Rings when no part has a hole (pycocotools unions rings, so a hole written as a ring would
    be filled); otherwise the RLE of the whole polygon. Rings must have 3 points or more."""
    box = bounding_box(polygon) or Box(x=0, y=0, w=0, h=0)
    if any(part.holes for part in polygon.parts):
        from labelport.domain.masks import mask_area, polygon_to_rle  # numpy: only for RLE

        width, height = image_wh
        rle = polygon_to_rle(polygon, height=height, width=width)
        return {"segmentation": rle_json(rle), "area": float(mask_area(rle)), "bbox": xywh(box)}
    rings = [[float(v) for v in part.outer] for part in polygon.parts]
    return {"segmentation": rings, "area": float(area(polygon)), "bbox": xywh(box)}


def mask_instance(mask: Mask) -> Json:
    from labelport.domain.masks import mask_area, rle_bbox  # numpy: only for masks

    return {"segmentation": rle_json(mask), "area": float(mask_area(mask)),
            "bbox": xywh(rle_bbox(mask))}


def keypoints_instance(keypoints: Keypoints, *, image_wh: tuple[int, int],
                       box_segmentation: str = "empty") -> Json:
    """COCO keypoints: unlabelled points as ``0, 0, 0``; ``bbox`` the object's own box, else the
    extent of the labelled points; the segmentation and area of its shape when it has one,
    else those of its box (`box_instance`)."""
    flat: list[float] = []
    for p in keypoints.points:
        labelled = p.v > Visibility.NOT_LABELED
        flat += (float(p.x), float(p.y), int(p.v)) if labelled else (0.0, 0.0, 0)
    box = bounding_box(keypoints) or Box(x=0, y=0, w=0, h=0)
    out = box_instance(box, box_segmentation=box_segmentation)
    if isinstance(keypoints.shape, Mask):
        out.update(mask_instance(keypoints.shape))
    elif keypoints.shape is not None:
        outline, _ = without_short_rings(keypoints.shape)
        if outline is not None:
            out.update(polygon_instance(outline, image_wh=image_wh))
    out.update(bbox=xywh(box), keypoints=flat,
               num_keypoints=sum(p.v > Visibility.NOT_LABELED for p in keypoints.points))
    return out


def without_short_rings(polygon: Polygon) -> tuple[Polygon | None, int]:
    """The polygon without rings under 3 points (pycocotools reads 4 numbers as a box), the
    number of rings removed; None when no part is left."""
    removed = 0
    parts: list[PolygonPart] = []
    for part in polygon.parts:
        holes = tuple(h for h in part.holes if len(h) >= 6)
        removed += len(part.holes) - len(holes)
        if len(part.outer) < 6:
            removed += 1 + len(holes)
            continue
        parts.append(part if len(holes) == len(part.holes) else
                     PolygonPart(outer=part.outer, holes=holes))
    if not removed:
        return polygon, 0
    return (Polygon(parts=tuple(parts)) if parts else None), removed


# --- writing ------------------------------------------------------------------------------------


def _instance(geometry: Geometry, *, image_wh: tuple[int, int], ctx: WriteContext,
              box_segmentation: str = "empty") -> Json | None:
    """The COCO geometry fields of one annotation, after the out-of-image policy; None (counted)
    when nothing can be written."""
    if isinstance(geometry, RotatedBox):
        ctx.report.count("converted: rotated_box to its 4-corner polygon")
        geometry = Polygon.simple(rotated_box_corners(geometry))
    if isinstance(geometry, Polyline):
        ctx.report.count("not written: polyline (COCO has no open lines)")
        return None
    if isinstance(geometry, Mask) and (geometry.width, geometry.height) != image_wh:
        ctx.report.count("not written: mask whose size differs from its image")
        return None
    fitted = fit_to_image(geometry, image_wh=image_wh, ctx=ctx)
    match fitted:
        case None:
            return None
        case Box():
            return box_instance(fitted, box_segmentation=box_segmentation)
        case Polygon():
            kept, removed = without_short_rings(fitted)
            if removed:
                ctx.report.count("dropped: polygon ring with fewer than 3 points", removed)
            if kept is None:
                ctx.report.count("not written: polygon with fewer than 3 points")
                return None
            return polygon_instance(kept, image_wh=image_wh)
        case Mask():
            return mask_instance(fitted)
        case Keypoints():
            return keypoints_instance(fitted, image_wh=image_wh,
                                      box_segmentation=box_segmentation)
    raise TypeError(f"unexpected geometry {fitted!r}")


def _fields(annotation: Annotation, *, skip: frozenset[str]) -> Json:
    """The annotation as labelport encodes it, without ``skip`` and a default labelset."""
    out = {k: v for k, v in annotation_to_json(annotation).items() if k not in skip}
    if out.get("labelset") == DEFAULT_LABELSET:
        del out["labelset"]
    return out


def _has_extras(a: Annotation) -> bool:
    """Whether `_fields` would give anything beyond COCO's own keys: the checks
    `annotation_to_json` makes, without encoding the annotation (most have none)."""
    return (a.labelset != DEFAULT_LABELSET or bool(a.tags) or a.instance_id is not None
            or a.frame is not None or a.annotator is not None or a.lead_time_s is not None
            or bool(a.z_order) or a.source is not Source.HUMAN or a.created_at is not None
            or a.updated_at is not None)


def _extras(annotation: Annotation) -> Json:
    """labelport's fields of an annotation that COCO has no key for; the instance id under
    `INSTANCE_ID_KEY`."""
    out = _fields(annotation, skip=_NATIVE_KEYS) if _has_extras(annotation) else {}
    if "instance_id" in out:
        out[INSTANCE_ID_KEY] = out.pop("instance_id")
    if isinstance(annotation.geometry, RotatedBox):
        g = annotation.geometry
        out["rotated_box"] = {"cx": float(g.cx), "cy": float(g.cy), "w": float(g.w),
                              "h": float(g.h), "angle_deg": float(g.angle_deg)}
    return out


@dataclass(slots=True)
class _Split:
    """One split's images and annotations, spooled as JSON lines until the merge."""

    images: IO[bytes]
    annotations: IO[bytes]
    image_id: int = 0
    annotation_id: int = 0


@dataclass(slots=True)
class _CocoWriter:
    out_dir: Path
    spool_dir: Path
    schema: LabelSchema
    metadata: bool
    ctx: WriteContext
    box_segmentation: str = "empty"
    splits: dict[str, _Split] = field(default_factory=dict)
    latest: datetime | None = None
    category_ids: dict[str, int] = field(init=False)
    namer: FileNamer = field(init=False)

    def __post_init__(self) -> None:
        self.category_ids = {c.name: i for i, c in enumerate(self.schema.classes, start=1)}
        self.namer = FileNamer(keep_folders=True, report=self.ctx.report)

    def split(self, name: str) -> _Split:
        """The spool of split ``name``, opened on first use."""
        if name not in self.splits:
            self.splits[name] = _Split(
                images=(self.spool_dir / f"{len(self.splits)}.images").open("wb"),
                annotations=(self.spool_dir / f"{len(self.splits)}.annotations").open("wb"))
        return self.splits[name]

    def _seen(self, *moments: datetime | None) -> None:
        for moment in moments:
            if moment is not None and (self.latest is None
                                       or assume_utc(moment) > assume_utc(self.latest)):
                self.latest = moment

    def add(self, record: ItemRecord) -> None:
        split_name = record.split or DEFAULT_SPLIT
        split = self.split(split_name)
        item = record.item
        split.image_id += 1
        file_name = self.namer.name(item, f"{IMAGES_DIR}/{split_name}")
        target = self.out_dir / IMAGES_DIR / split_name / file_name
        self.ctx.place_media(item, target)
        image: Json = {"id": split.image_id,
                       "file_name": self.ctx.media_reference(item, target, file_name),
                       "width": item.width, "height": item.height}
        for task in record.tasks:
            self._seen(task.created_at, task.updated_at)
        if self.metadata:
            image["attributes"] = dict(item.metadata)
            image.update((k, v) for k, v in item_to_json(item).items() if k not in _ITEM_KEYS)
            if record.tasks:
                image["tasks"] = [task_to_json(t) for t in record.tasks]
        elif item.metadata or any(t.classifications for t in record.tasks):
            self.ctx.report.count("not written: image metadata and classifications "
                                  "(metadata=false)")
        image_labels: list[Json] = []
        for annotation in record.annotations:
            self._seen(annotation.created_at, annotation.updated_at)
            if not isinstance(annotation.geometry, NoGeometry):
                self._annotation(annotation, split, image_wh=(item.width, item.height))
            elif self.metadata:
                self.ctx.report.count("converted: none (image-level label) to image_labels")
                image_labels.append(_fields(annotation, skip=frozenset({"geometry"})))
            else:
                self.ctx.report.count("not written: none (image-level label; metadata=false)")
        if image_labels:
            image["image_labels"] = image_labels
        split.images.write(orjson.dumps(image) + b"\n")

    def _annotation(self, annotation: Annotation, split: _Split, *,
                    image_wh: tuple[int, int]) -> None:
        category_id = self.category_ids.get(annotation.label)
        if category_id is None:
            self.ctx.report.count("not written: annotation whose class is not in the schema")
            return
        instance = _instance(annotation.geometry, image_wh=image_wh, ctx=self.ctx,
                             box_segmentation=self.box_segmentation)
        if instance is None:
            return
        split.annotation_id += 1
        out: Json = {"id": split.annotation_id, "image_id": split.image_id,
                     "category_id": category_id, **instance, "iscrowd": int(annotation.crowd)}
        if annotation.score is not None:
            out["score"] = annotation.score
        extras = _extras(annotation)
        if self.metadata:
            out["attributes"] = dict(annotation.attributes)
            out.update(extras)
        elif annotation.attributes or extras:
            self.ctx.report.count("not written: annotation attributes and metadata "
                                  "(metadata=false)")
        split.annotations.write(orjson.dumps(out) + b"\n")

    def info(self, source: ExportSource) -> Json:
        out: Json = {"description": source.project.name, "version": "",
                     "contributor": "", "url": "", "labelport_version": __version__}
        if self.latest is not None:
            out["year"] = self.latest.year
            out["date_created"] = self.latest.isoformat()
        return out

    def merge(self, source: ExportSource) -> None:
        """Write each split's JSON: the header, then the spooled lines copied in order."""
        categories = categories_json(self.schema, metadata=self.metadata)
        (self.out_dir / ANNOTATIONS_DIR).mkdir(parents=True, exist_ok=True)
        head: list[tuple[str, Any]] = [("info", self.info(source)), ("licenses", [])]
        if self.metadata and self.schema.classifications:
            head.append(("classifications", [classification_def_to_json(c)
                                             for c in self.schema.classifications]))
        for name, split in self.splits.items():
            with (self.out_dir / annotation_file(name)).open("wb") as f:
                f.write(b"{")
                for key, value in head:
                    f.write(orjson.dumps(key) + b": " + orjson.dumps(value) + b",\n")
                _write_array(f, "categories", (orjson.dumps(c) for c in categories))
                f.write(b",\n")
                for key, spool in (("images", split.images), ("annotations", split.annotations)):
                    spool.close()
                    with open(spool.name, "rb") as lines:
                        f.write(orjson.dumps(key) + b": [")
                        write_lines(f, lines)
                        f.write(b"\n]")
                    f.write(b",\n" if key == "images" else b"}\n")


def _write_array(f: IO[bytes], key: str, entries: Iterable[bytes]) -> None:
    f.write(orjson.dumps(key) + b": [")
    write_entries(f, entries)
    f.write(b"\n]")


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """Each split's JSON from the shards' (`MergeShards`, `labelport.formats.coco._merge`):
    annotation ids shifted by the annotations of the shards before, image ids by their
    images; ``info`` of the latest ``date_created`` of all shards."""
    return merge_split_files(shards, out, pattern="instances_*.json",
                             annotation_ids=("id", "image_id"))


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Stream ``source`` into one COCO JSON per split under ``out_dir``; images and annotations
    are spooled to files as records arrive and merged at the end, so memory stays flat."""
    spool_dir = out_dir / ".coco-spool"
    spool_dir.mkdir(parents=True, exist_ok=True)
    writer = _CocoWriter(out_dir=out_dir, spool_dir=spool_dir, schema=source.schema,
                         metadata=bool(options.get("metadata", True)), ctx=ctx,
                         box_segmentation=str(options.get("box_segmentation") or "empty"))
    try:
        done = 0
        for done, record in enumerate(source.records(), start=1):
            writer.add(record)
            if done % _PROGRESS_EVERY == 0:
                ctx.progress(done)
        ctx.progress(done)
        if not writer.splits:  # an empty project still gets its categories
            writer.split(DEFAULT_SPLIT)
        writer.merge(source)
    finally:
        for split in writer.splits.values():
            split.images.close()
            split.annotations.close()
        shutil.rmtree(spool_dir, ignore_errors=True)


SPEC = FormatSpec(
    name="coco",
    title="COCO instances and keypoints (JSON)",
    extension=".json",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.POLYGON, GeometryKind.MASK,
                          GeometryKind.KEYPOINTS}),
    conventions=Conventions(
        coordinates="absolute pixels as floats, bbox [x, y, w, h], not rounded",
        index_base="keypoint skeleton and flip_pairs 1-based",
        ids="image, annotation and category ids from 1 in each file; categories in schema order",
        notes="polygons with holes and masks as compressed column-major RLE (pycocotools); "
              "area of the segmentation; iscrowd = crowd flag; rotated boxes as 4-corner "
              "polygons; polylines not written",
    ),
    attributes=True,
    scores=True,
    splits=True,
    media=True,
    options=(OptionSpec(name="metadata", type=bool, default=True,
                        help="COCO + metadata: item metadata, tasks, classifications, image-level "
                             "labels and annotation attributes, tags, ids, annotator"),
             OptionSpec(name="box_segmentation", type=str, default="empty",
                        choices=BOX_SEGMENTATIONS,
                        help="a box's segmentation: empty ([], COCO's detection files) or "
                             "polygon (its 4 corners, for pycocotools' mask helpers and Mask "
                             "R-CNN loaders)")),
    writer=write,
    reader=read,
    merge_shards=merge_shards,
    merge_reads=(f"{ANNOTATIONS_DIR}/instances_*.json",),
)
