"""KITTI object detection labels: one text file per image, one object per line.

Layout::

    classes.tsv                     # "type<TAB>name": each class's KITTI type, in schema order
    dataset_meta.json               # {"labels": [the types in schema order]}, for Datumaro
    <split>/label_2/<stem>.txt      # one per image, empty when it has no objects
    <split>/image_2/<file name>     # with media copied or linked
    <split>/label_2/cam1/<stem>.txt # an item's path inside its dataset keeps its folders,
    <split>/image_2/cam1/<file>     # mirrored below label_2/ and image_2/ (a second dataset's
                                    # same path is renamed, listed in the manifest)

A line has the devkit's 15 space-separated fields, and a 16th, ``score``, for predictions::

    type truncated occluded alpha left top right bottom height width length x y z rotation_y [score]
    car 0.00 0 -10 100.00 200.00 260.00 290.00 -1 -1 -1 -1000 -1000 -1000 -10
    car 0.00 0 -10 102.00 198.00 257.00 291.00 -1 -1 -1 -1000 -1000 -1000 -10 0.910000

Conventions:
- ``left top right bottom`` are 0-based pixel coordinates with 2 decimals (as the devkit's own
  labels): ``left = x``, ``right = x + w``, origin at the top-left corner of the image.
- ``truncated`` (0..1, 2 decimals) is the ``truncated`` (or ``truncation``) attribute, else the
  share of the object's box outside the image before it was clipped. ``occluded`` is the
  ``occluded`` attribute, 0 fully visible .. 3 unknown (a bool gives 0 or 1); 0 when absent; a
  value outside 0..3 is written as 3 (counted).
- The 3-D fields come from the attributes ``alpha``, ``dimensions`` ([height, width, length] in
  metres), ``location`` ([x, y, z] in camera coordinates) and ``rotation_y``; unknown ones are
  the devkit's DontCare values: ``alpha`` -10, dimensions -1, location -1000, ``rotation_y`` -10.
- ``score`` (6 decimals) is written only on lines of annotations that have one, so ground truth
  has 15 fields and a model's predictions 16.
- KITTI separates fields with spaces, so each run of white space in a class name becomes ``_``
  (``traffic sign`` is written ``traffic_sign``, counted); ``classes.tsv`` maps types back to
  names. Two classes that would get the same type are refused. ``dataset_meta.json`` lists the
  types as Datumaro's meta file does, so Datumaro reads every split with one label list (without
  it, it collects one per split and refuses to merge lists that differ).
- Only boxes are carried. Rotated boxes, polygons, polylines, masks and keypoints are written as
  their axis-aligned envelope (counted); image-level labels, image classifications and other
  attributes are not written (counted).

Reading takes this layout (``<split>/label_2``, the split being the folder's name) or a folder
holding ``label_2/`` (no split), with its sub-folders. KITTI stores no image size: each image
is looked up by its stem's path in ``image_2/`` and then in the ``images`` folder (there also by
name), and its size read from the header; the item's path keeps the folders; a label file
without its image is an error. Types map back through ``classes.tsv`` when present. ``truncated``
and ``occluded`` become attributes, and so do the 3-D fields that are not DontCare values; a
16th field becomes the annotation's score (source ``model``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from labelport.domain.geometry import Box, GeometryKind
from labelport.domain.model import (
    Annotation,
    ItemRecord,
    ProjectInfo,
    Source,
)
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError
from labelport.formats._shared.dataset_meta import write_label_list
from labelport.formats._shared.geometry import box_on_image, truncation
from labelport.formats._shared.image_files import ImageFolder, image_item
from labelport.formats._shared.input_files import read_lines
from labelport.formats._shared.label_colors import (
    CLASSES_FILE,
    class_token,
    class_tokens,
    classes_tsv,
    read_class_names,
)
from labelport.formats._shared.naming import FileNamer, file_stem, safe_file_name
from labelport.formats.base import Conventions, FormatSpec, WriteContext, merge_by_copying

LABELS_DIR = "label_2"
IMAGES_DIR = "image_2"
_PROGRESS_EVERY = 200

DONT_CARE_ALPHA = -10.0
DONT_CARE_DIMENSION = -1.0
DONT_CARE_LOCATION = -1000.0
DONT_CARE_ROTATION = -10.0
_3D_ATTRIBUTES = ("alpha", "dimensions", "location", "rotation_y")
_CARRIED = frozenset({"truncated", "truncation", "occluded", *_3D_ATTRIBUTES})


# --- pure conversions ------------------------------------------------------------------------


def _number(value: float, dont_care: float) -> str:
    """2 decimals, or the DontCare value as the devkit writes it (``-1``, ``-1000``, ``-10``)."""
    return f"{dont_care:g}" if value == dont_care else f"{value:.2f}"


def _numbers(value: Any, count: int) -> tuple[float, ...] | None:
    """``count`` finite numbers from an attribute (a list or a single number), else None."""
    values = value if isinstance(value, Sequence) and not isinstance(value, str) else (value,)
    if len(values) != count or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in values):
        return None
    return tuple(float(v) for v in values)


def occlusion_level(value: Any) -> int | None:
    """KITTI's 0..3 from an ``occluded`` attribute; None when it is not such a level."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1, 2, 3):
        return int(value)
    if isinstance(value, str) and value.strip() in ("0", "1", "2", "3"):
        return int(value)
    return None


def kitti_line(*, type_: str, box: Box, truncated: float, occluded: int,
               attributes: Mapping[str, Any], score: float | None) -> str:
    """One label line: the 15 devkit fields, and ``score`` when given."""
    alpha = _numbers(attributes.get("alpha"), 1) or (DONT_CARE_ALPHA,)
    dimensions = _numbers(attributes.get("dimensions"), 3) or (DONT_CARE_DIMENSION,) * 3
    location = _numbers(attributes.get("location"), 3) or (DONT_CARE_LOCATION,) * 3
    rotation_y = _numbers(attributes.get("rotation_y"), 1) or (DONT_CARE_ROTATION,)
    left, top, right, bottom = box.xyxy
    fields = [
        type_, f"{truncated:.2f}", str(occluded), _number(alpha[0], DONT_CARE_ALPHA),
        f"{left:.2f}", f"{top:.2f}", f"{right:.2f}", f"{bottom:.2f}",
        *(_number(v, DONT_CARE_DIMENSION) for v in dimensions),
        *(_number(v, DONT_CARE_LOCATION) for v in location),
        _number(rotation_y[0], DONT_CARE_ROTATION),
    ]
    if score is not None:
        fields.append(f"{score:.6f}")
    return " ".join(fields)


# --- writing ---------------------------------------------------------------------------------


def _label_lines(record: ItemRecord, types: Mapping[str, str], ctx: WriteContext) -> list[str]:
    item = record.item
    image_wh = (item.width, item.height)
    lines: list[str] = []
    for annotation in record.annotations:
        box = box_on_image(annotation.geometry, image_wh=image_wh, ctx=ctx)
        if box is None:
            continue
        attributes = annotation.attributes
        occluded = 0
        if "occluded" in attributes:
            level = occlusion_level(attributes["occluded"])
            if level is None:
                ctx.report.count("converted: occluded attribute not 0..3 written as 3 (unknown)")
            occluded = 3 if level is None else level
        if any(name not in _CARRIED for name in attributes):
            ctx.report.count("dropped: attributes")
        type_ = types.get(annotation.label) or class_token(annotation.label)
        if type_ != annotation.label:
            ctx.report.count("converted: white space in class name written as '_'")
        lines.append(kitti_line(
            type_=type_, box=box, occluded=occluded, attributes=attributes,
            truncated=truncation(annotation.geometry, attributes, image_wh=image_wh),
            score=annotation.score))
    for task in record.tasks:
        if task.classifications:
            ctx.report.count("not written: image classification", len(task.classifications))
    return lines


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Write ``source`` as KITTI label files under ``out_dir``, one record at a time."""
    types = class_tokens(source.schema, format_name="KITTI")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CLASSES_FILE).write_text(
        classes_tsv(types),
        encoding="utf-8", newline="\n")
    write_label_list(out_dir, list(types.values()))
    namer = FileNamer(unique_stems=True, keep_folders=True, report=ctx.report)
    done = 0
    for done, record in enumerate(source.records(), start=1):
        split = safe_file_name(record.split or "train")
        file_name = namer.name(record.item, split)
        ctx.place_media(record.item, out_dir / split / IMAGES_DIR / file_name)
        labels = out_dir / split / LABELS_DIR / f"{file_stem(file_name)}.txt"
        labels.parent.mkdir(parents=True, exist_ok=True)
        lines = _label_lines(record, types, ctx)
        ctx.files.write_text(labels, "".join(f"{line}\n" for line in lines))
        if done % _PROGRESS_EVERY == 0:
            ctx.progress(done)
    ctx.progress(done)


# --- reading ---------------------------------------------------------------------------------


def _float(path: Path, number: int, field: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{path}: line {number}: {field} should be a number, "
                         f"got {raw!r}") from None
    if not math.isfinite(value):
        raise InputError(f"{path}: line {number}: {field} should be finite, got {raw!r}")
    return value


_FIELDS = ("truncated", "occluded", "alpha", "left", "top", "right", "bottom", "height", "width",
           "length", "x", "y", "z", "rotation_y", "score")


def parse_line(path: Path, number: int, line: str,
               names: Mapping[str, str]) -> Annotation:
    """One label line as an annotation; `InputError` naming the file, line and field."""
    tokens = line.split()
    if len(tokens) not in (15, 16):
        raise InputError(f"{path}: line {number}: expected 15 fields (16 with a score), "
                         f"got {len(tokens)}")
    values = dict(zip(_FIELDS, (_float(path, number, field, raw)
                                for field, raw in zip(_FIELDS, tokens[1:], strict=False)),
                      strict=False))
    left, top, right, bottom = (values[k] for k in ("left", "top", "right", "bottom"))
    if right < left or bottom < top:
        raise InputError(f"{path}: line {number}: expected left <= right and top <= bottom, "
                         f"got {left} {top} {right} {bottom}")
    if values["occluded"] not in (0, 1, 2, 3, -1):
        raise InputError(f"{path}: line {number}: occluded should be 0, 1, 2 or 3, "
                         f"got {tokens[2]!r}")
    attributes: dict[str, Any] = {"truncated": values["truncated"],
                                  "occluded": int(values["occluded"])}
    if values["alpha"] != DONT_CARE_ALPHA:
        attributes["alpha"] = values["alpha"]
    dimensions = [values[k] for k in ("height", "width", "length")]
    if any(v != DONT_CARE_DIMENSION for v in dimensions):
        attributes["dimensions"] = dimensions
    location = [values[k] for k in ("x", "y", "z")]
    if any(v != DONT_CARE_LOCATION for v in location):
        attributes["location"] = location
    if values["rotation_y"] != DONT_CARE_ROTATION:
        attributes["rotation_y"] = values["rotation_y"]
    score = values.get("score")
    return Annotation(label=names.get(tokens[0], tokens[0]),
                      geometry=Box.from_xyxy(left, top, right, bottom), attributes=attributes,
                      score=score, source=Source.MODEL if score is not None else Source.HUMAN)


class _Split:
    """One ``label_2`` folder with its images."""

    def __init__(self, folder: Path, split: str | None, images: Path | None) -> None:
        self.split = split
        self.labels_dir = folder / LABELS_DIR
        self.labels = sorted(self.labels_dir.rglob("*.txt"))
        self.image_folders = [ImageFolder(folder / IMAGES_DIR, recursive=True)]
        if images is not None:
            self.image_folders.append(ImageFolder(images, recursive=True))

    def image(self, stem: str) -> Path | None:
        """The image of a label file's stem below ``label_2/`` (``cam1/a``), by that path or,
        in the ``images`` folder, by its name alone."""
        for folder in self.image_folders:
            found = folder.find(stem) or folder.find(stem.rpartition("/")[2])
            if found is not None:
                return found
        return None


def _splits(root: Path, images: Path | None) -> list[_Split]:
    if not root.is_dir():
        raise InputError(f"{root}: expected a KITTI folder (<split>/{LABELS_DIR}/ or "
                         f"{LABELS_DIR}/)")
    if (root / LABELS_DIR).is_dir():
        return [_Split(root, None, images)]
    splits = [_Split(folder, folder.name, images) for folder in sorted(root.iterdir())
              if (folder / LABELS_DIR).is_dir()]
    if not splits:
        raise InputError(f"{root}: no {LABELS_DIR}/ folder here or in a split folder")
    return splits


def _record(labels: Path, split: _Split, names: Mapping[str, str]) -> ItemRecord:
    stem = labels.relative_to(split.labels_dir).with_suffix("").as_posix()
    image = split.image(stem)
    if image is None:
        raise InputError(f"{labels}: KITTI stores no image size and no image "
                         f"{stem}.* was found in {IMAGES_DIR}/ or the images folder")
    folder = stem.rpartition("/")[0]
    item = image_item(image, f"{folder}/{image.name}" if folder else None)
    lines = read_lines(labels)
    annotations = tuple(parse_line(labels, number, line, names)
                        for number, line in enumerate(lines, start=1) if line.strip())
    return ItemRecord(item=item, annotations=annotations, split=split.split)


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read a KITTI export. Every file is checked first, so a bad file fails the whole import;
    records are then parsed again as they are asked for."""
    root = Path(path)
    images = options.get("images")
    splits = _splits(root, Path(images) if images else None)
    classes = root / CLASSES_FILE
    names = read_class_names(classes) if classes.is_file() else {}
    schema = LabelSchema(classes=tuple(LabelClass(id=i, name=name)
                                       for i, name in enumerate(names.values(), start=1)))
    seen: list[str] = []
    for split in splits:
        for labels in split.labels:
            record = _record(labels, split, names)
            seen += (a.label for a in record.annotations if a.label not in seen)
    schema = schema.with_classes(seen, GeometryKind.BOX)

    def records() -> Iterator[ItemRecord]:
        for split in splits:
            for labels in split.labels:
                yield _record(labels, split, names)

    return StreamSource(project=ProjectInfo(name=root.name), schema=schema,
                        count=sum(len(split.labels) for split in splits), open_records=records)


SPEC = FormatSpec(
    name="kitti",
    title="KITTI object detection (text)",
    extension="txt",
    geometries=frozenset({GeometryKind.BOX}),
    conventions=Conventions(
        coordinates="absolute pixels, left top right bottom with 2 decimals",
        index_base="0-based: left = x, right = x + w",
        notes="15 fields, a 16th score for predictions; truncated from attributes or clipping; "
              "unknown 3-D fields as DontCare (-1, -1000, -10); spaces in class names as '_'",
    ),
    attributes=True,
    scores=True,
    splits=True,
    media=True,
    writer=write,
    reader=read,
    merge_shards=merge_by_copying,
)
