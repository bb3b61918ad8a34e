"""Ultralytics YOLO (``yolo``): detect, segment, obb and pose labels with a ``data.yaml``, and
the classify layout.

Layout::

    data.yaml                 train/val/test folders (relative to this file), names, nc
                              (pose: kpt_shape, flip_idx)
    images/{split}/a.jpg      the images (with --media copy|symlink)
    labels/{split}/a.txt      one row per object; every image has a file, empty without objects
    images/{split}/cam1/b.jpg an item's path inside its dataset keeps its folders: the tree is
    labels/{split}/cam1/b.txt mirrored under images/ and labels/ (Ultralytics reads nested
                              folders); two datasets' same path: the second gets its dataset in
                              its name, listed in the manifest's report.renamed

Conventions: class index from 0 in the schema's order (every class, used or not); values are
fractions of the image's width and height, origin at the top-left corner, 6 decimals, always
inside [0, 1]. Rows by ``task`` (rows in `labelport.formats.yolo._rows`):

- ``detect``: ``cls cx cy w h``. Other geometry becomes its bounding box (counted).
- ``segment``: ``cls x1 y1 ... xn yn``. A polygon with holes or several parts is one row whose
  rings are joined by zero-width bridges, as Ultralytics' own COCO converter does (counted);
  boxes and rotated boxes become 4-point polygons (counted); lines, keypoints and masks are not
  written (counted).
- ``obb``: ``cls x1 y1 x2 y2 x3 y3 x4 y4``, the corners of `rotated_box_corners` (clockwise on
  screen from the corner that is top-left before rotation); a box gives its corners from the
  top-left one. A rotated box reaching outside the image has its corners pulled onto the border
  when clipping (counted). Other geometry becomes its bounding box (counted).
- ``pose``: ``cls cx cy w h`` then ``x y v`` for each of K keypoints (``kpt_shape: [K, 3]``, K the
  largest keypoint count of the schema's classes; missing points ``0 0 0``). The box is the
  keypoints object's own box (read from a COCO ``bbox`` or a pose row), else the one annotated
  with the same ``instance_id`` on the image, else the extent of the labelled points. Objects
  of classes without keypoints are written with K missing points. ``flip_idx`` comes from the
  schema's ``flip_pairs`` when the keypoint classes agree on them.

``data.yaml`` has no ``path:``: Ultralytics resolves a relative ``path`` against the working
directory, and then resolves ``train``/``val``/``test`` against the yaml's own folder when
``path`` is absent, so the export trains from anywhere and can be moved or unzipped. When no
``val`` split was exported, ``val`` points at ``images/train``. Values that would leave [0, 1]
(only possible with the ``keep`` out-of-image policy) are never written: the row is dropped and
counted, because Ultralytics ignores a whole image for one such value.

The reader takes ``data.yaml`` (or its folder), reads rows as Ultralytics does (5 columns: box;
more: polygon; with ``kpt_shape``: pose) and, with ``task=obb``, 9 columns as rotated boxes.
Image sizes come from image headers, from ``images/{split}/`` (and its sub-folders) or the
``images`` option. Items get dataset ``default``, their image's path below ``images/{split}/``
as path (``cam1/b.jpg``), and the split of the yaml key that listed them. A pose row keeps its
box as the keypoints object's own box unless it is the points' extent.

``task=classify`` writes and reads Ultralytics' classify layout instead: ``train/``, ``val/``
and ``test/`` folders of class folders, no label files and no ``data.yaml`` (Ultralytics takes
the folder). It is `labelport.formats._shared.class_folders`'s layout (``imagefolder``): class
indices in sorted folder order, labels from image-level classes or the ``classification``
option, images without a label in ``unlabeled/{split}/`` (or left out with
``unlabeled=skip``), one label per image.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Keypoint,
    Keypoints,
    Polygon,
    Ring,
    RotatedBox,
)
from labelport.domain.geometry_ops import bounding_box, rotated_box_corners
from labelport.domain.model import (
    Annotation,
    ItemRecord,
    ProjectInfo,
)
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared import class_folders, yaml_text
from labelport.formats._shared.geometry import count_unwritten_shape, object_on_image
from labelport.formats._shared.image_files import ImageFolder, image_item, is_image
from labelport.formats._shared.image_labels import CLASSIFICATION_OPTION
from labelport.formats._shared.input_files import (
    bounded_count,
    is_folder,
    is_regular_file,
    read_text,
)
from labelport.formats._shared.naming import FileNamer, file_stem, safe_file_name
from labelport.formats.base import (
    Conventions,
    FormatSpec,
    OptionSpec,
    OutsidePolicy,
    WriteContext,
    no_media,
)
from labelport.formats.yolo import _rows as rows

TASKS = ("detect", "segment", "obb", "pose")
"""The tasks written as label rows; ``classify`` writes class folders instead."""
CLASSIFY = "classify"
YAML_NAME = "data.yaml"
YAML_SPLITS = ("train", "val", "test")
_YAML_KEYS = frozenset({"path", "nc", "names", "kpt_shape", "flip_idx", "download", "channels"})
"""data.yaml keys that are not splits: a split of one of these names is refused."""
PROGRESS_EVERY = 100


# --- writing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoseShape:
    """``kpt_shape: [n_keypoints, 3]`` and ``flip_idx`` (None when the schema gives none)."""

    n_keypoints: int
    flip_idx: tuple[int, ...] | None


def pose_shape(schema: LabelSchema) -> PoseShape:
    """K is the largest keypoint count among the schema's classes; ``flip_idx`` is written when
    every keypoint class has the same names and flip pairs (one skeleton for the dataset)."""
    keypoint_classes = [c for c in schema.classes if c.keypoint_names]
    if not keypoint_classes:
        raise UnsupportedError("yolo task 'pose' needs a class with keypoint names in the schema")
    n = max(len(c.keypoint_names) for c in keypoint_classes)
    skeletons = {(c.keypoint_names, c.flip_pairs) for c in keypoint_classes}
    pairs = keypoint_classes[0].flip_pairs
    if len(skeletons) > 1 or not pairs:
        return PoseShape(n, None)
    flip = list(range(n))
    for a, b in pairs:
        flip[a], flip[b] = b, a
    return PoseShape(n, tuple(flip))


def _segment_ring(annotation: Annotation, *, image_wh: tuple[int, int],
                  ctx: WriteContext) -> Ring | None:
    geometry = annotation.geometry
    match geometry:
        case Box():
            ctx.report.count("converted: box to polygon")
            geometry = Polygon.simple(rows.box_corners(geometry))
        case RotatedBox():
            ctx.report.count("converted: rotated_box to polygon")
            geometry = Polygon.simple(rotated_box_corners(geometry))
        case Polygon():
            pass
        case _:
            if geometry.kind is not GeometryKind.NONE:
                ctx.report.count(f"not written: {geometry.kind.value} (segment carries polygons)")
                return None
    placed = object_on_image(geometry, image_wh=image_wh, ctx=ctx)
    if not isinstance(placed, Polygon):
        return None
    if len(placed.parts) > 1 or placed.parts[0].holes:
        ctx.report.count("converted: polygon holes and parts joined into one ring")
    return rows.polygon_to_single_ring(placed)


def _obb_corners(annotation: Annotation, *, image_wh: tuple[int, int],
                 ctx: WriteContext) -> Ring | None:
    geometry = annotation.geometry
    if isinstance(geometry, RotatedBox):
        placed = object_on_image(geometry, image_wh=image_wh, ctx=ctx)
        if not isinstance(placed, RotatedBox):
            return None
        corners = rotated_box_corners(placed)
        if ctx.outside is OutsidePolicy.CLIP:
            width, height = image_wh
            pulled = tuple(min(max(v, 0.0), width if i % 2 == 0 else height)
                           for i, v in enumerate(corners))
            if pulled != corners:
                ctx.report.count("clipped to the image: rotated_box corners")
            corners = pulled
        return corners
    box = rows.detection_box(geometry, image_wh=image_wh, ctx=ctx)
    return None if box is None else rows.box_corners(box)


def _pose_row(annotation: Annotation, *, partner: Box | None, class_index: int,
              shape: PoseShape, image_wh: tuple[int, int], ctx: WriteContext) -> str | None:
    """The pose row, or None with the reason counted."""
    geometry = annotation.geometry
    keypoints: tuple[Keypoint, ...] = ()
    if isinstance(geometry, Keypoints):
        placed = object_on_image(geometry, image_wh=image_wh, ctx=ctx)
        if not isinstance(placed, Keypoints):
            return None
        if len(placed.points) > shape.n_keypoints:
            ctx.report.count("not carried: keypoints beyond kpt_shape")
        count_unwritten_shape(placed, ctx)
        keypoints = placed.points
        box = partner if partner is not None else bounding_box(placed)
    else:
        box = rows.detection_box(geometry, image_wh=image_wh, ctx=ctx)
        if box is None:
            return None
        ctx.report.count("pose: object without keypoints")
    row = None if box is None else rows.pose_to_yolo_row(
        box, keypoints, n_keypoints=shape.n_keypoints, image_wh=image_wh,
        class_index=class_index)
    if row is None:
        ctx.report.count(rows.OUTSIDE_UNIT)
    return row


def _pose_partners(record: ItemRecord, *, image_wh: tuple[int, int],
                   ctx: WriteContext) -> tuple[dict[int, Box], set[int]]:
    """Boxes that share an ``instance_id`` with keypoints on the same image: the keypoints' row
    uses the box, and the box is not written again. Returns boxes by instance id and the
    positions of the annotations they consumed."""
    keypoint_ids = {a.instance_id for a in record.annotations
                    if isinstance(a.geometry, Keypoints) and a.instance_id is not None}
    partners: dict[int, Box] = {}
    consumed: set[int] = set()
    for i, a in enumerate(record.annotations):
        if (isinstance(a.geometry, Box) and a.instance_id in keypoint_ids
                and a.instance_id not in partners):
            consumed.add(i)
            placed = object_on_image(a.geometry, image_wh=image_wh, ctx=ctx)
            if isinstance(placed, Box):
                partners[a.instance_id] = placed
    return partners, consumed


def label_rows(record: ItemRecord, *, schema: LabelSchema, task: str,
               shape: PoseShape | None, ctx: WriteContext,
               indices: Mapping[str, int] | None = None) -> list[str]:
    """The label file's rows for one image, in the record's annotation order; ``indices`` is
    `rows.class_indices` of ``schema`` (built once per export by the writer)."""
    if indices is None:
        indices = rows.class_indices(schema)
    if task == "detect":
        return rows.detect_rows(record, schema=schema, ctx=ctx, indices=indices)
    image_wh = (record.item.width, record.item.height)
    partners: dict[int, Box] = {}
    consumed: set[int] = set()
    if task == "pose":
        partners, consumed = _pose_partners(record, image_wh=image_wh, ctx=ctx)
    out: list[str] = []
    for i, annotation in enumerate(record.annotations):
        index = None if i in consumed else rows.class_index(annotation, schema=schema, ctx=ctx,
                                                            indices=indices)
        if index is None:
            continue
        row: str | None
        if task in ("segment", "obb"):
            to_ring = _segment_ring if task == "segment" else _obb_corners
            ring = to_ring(annotation, image_wh=image_wh, ctx=ctx)
            if ring is None:
                continue
            row = rows.ring_to_yolo_row(ring, image_wh=image_wh, class_index=index)
        else:
            if annotation.geometry.kind is GeometryKind.NONE:
                object_on_image(annotation.geometry, image_wh=image_wh, ctx=ctx)
                continue
            assert shape is not None
            partner = (partners.get(annotation.instance_id)
                       if annotation.instance_id is not None else None)
            row = _pose_row(annotation, partner=partner, class_index=index, shape=shape,
                            image_wh=image_wh, ctx=ctx)
            if row is None:
                continue
        if row is None:
            ctx.report.count(rows.OUTSIDE_UNIT)
            continue
        rows.count_not_carried(ctx, annotation)
        out.append(row)
    return out


def data_yaml(*, schema: LabelSchema, splits: list[str], shape: PoseShape | None) -> str:
    """The yaml text: split folders relative to the yaml (no ``path:``), ``val`` falling back to
    train, names one ``index: name`` per line in schema order (as Ultralytics writes them),
    short lists inline."""
    text = _split_lines(splits) + f"nc: {len(schema.classes)}\n"
    text += yaml_text.block_mapping("names", dict(enumerate(schema.class_names)))
    if shape is not None:
        text += f"kpt_shape: {yaml_text.flow_list([shape.n_keypoints, 3])}\n"
        if shape.flip_idx is not None:
            text += f"flip_idx: {yaml_text.flow_list(shape.flip_idx)}\n"
    return text


def _split_lines(splits: list[str]) -> str:
    folders = {split: f"images/{split}" for split in dict.fromkeys(["train", *splits])}
    folders.setdefault("val", "images/train")
    ordered = {key: folders[key] for key in YAML_SPLITS if key in folders} | folders
    return "".join(f"{yaml_text.scalar(key)}: {yaml_text.scalar(folder)}\n"
                   for key, folder in ordered.items())


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """``data.yaml`` lists the splits of every shard, in the order they first came (the rest of
    it, from ``nc:``, is the same in every shard); every other file merges by copying. The
    classify layout has no ``data.yaml``."""
    yamls = [shard / YAML_NAME for shard in shards if (shard / YAML_NAME).exists()]
    if not yamls:
        return []
    splits: dict[str, None] = {}
    for path in yamls:
        head, _, rest = path.read_text(encoding="utf-8").partition("\nnc: ")
        for line in head.splitlines():
            key, _, folder = line.partition(": ")
            if yaml_text.scalar(f"images/{_unquoted(key)}") == folder:
                splits.setdefault(_unquoted(key))
    (out / YAML_NAME).write_text(_split_lines(list(splits)) + "nc: " + rest, encoding="utf-8",
                                 newline="\n")
    return [YAML_NAME]


def _unquoted(scalar: str) -> str:
    """A split name as `yaml_text.scalar` wrote it (split names never hold quotes)."""
    return scalar.strip("'\"")


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    task = options.get("task", "detect")
    if task not in (*TASKS, CLASSIFY):
        raise InputError(f"yolo task must be one of {', '.join(TASKS)}, {CLASSIFY}; "
                         f"got {task!r}")
    if task == CLASSIFY:
        _write_classify(source, out_dir, options, ctx)
        return
    schema = source.schema
    shape = pose_shape(schema) if task == "pose" else None
    indices = rows.class_indices(schema)
    namer = FileNamer(unique_stems=True, keep_folders=True, report=ctx.report)
    folders: dict[str, tuple[Path, str]] = {}  # split -> its images folder, its labels folder
    done = 0
    for record in source.records():
        split = safe_file_name(record.split or "train")
        if split not in folders:
            if split in _YAML_KEYS:
                raise UnsupportedError(
                    f"YOLO cannot write a split named {split!r}: data.yaml's {split!r} key "
                    "means something else to Ultralytics; rename the split")
            images, labels = out_dir / "images" / split, out_dir / "labels" / split
            images.mkdir(parents=True, exist_ok=True)
            labels.mkdir(parents=True, exist_ok=True)
            folders[split] = (images, os.fspath(labels))
        images, labels_folder = folders[split]
        name = namer.name(record.item, split)
        if ctx.place_media is not no_media:  # the target path only matters to media
            ctx.place_media(record.item, images / name)
        text = "".join(f"{row}\n" for row in
                       label_rows(record, schema=schema, task=task, shape=shape, ctx=ctx,
                                  indices=indices))
        ctx.files.write_text(os.path.join(labels_folder, f"{file_stem(name)}.txt"), text)
        done += 1
        if done % PROGRESS_EVERY == 0:
            ctx.progress(done)
    splits = list(folders)
    for split in ("train", *splits):
        (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
        (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
    unknown = [s for s in splits if s not in YAML_SPLITS]
    if unknown:
        ctx.report.warn(f"splits {', '.join(unknown)} are written and listed in {YAML_NAME}, "
                        "but Ultralytics trains only on train/val/test")
    (out_dir / YAML_NAME).write_text(data_yaml(schema=schema, splits=splits, shape=shape),
                                     encoding="utf-8", newline="\n")
    ctx.progress(done)


def _write_classify(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
                    ctx: WriteContext) -> None:
    """The classify layout; Ultralytics trains on ``train/`` and validates on ``val/`` (else
    ``test/``), so other split names are written but warned about."""
    class_folders.write(source, out_dir, options, ctx, format_name="yolo task=classify")
    splits = {p.name for p in out_dir.iterdir() if p.is_dir()} - {class_folders.UNLABELED_DIR}
    unknown = sorted(splits - set(YAML_SPLITS))
    if unknown:
        ctx.report.warn(f"splits {', '.join(unknown)} are written, but Ultralytics classify "
                        "trains only on train/val/test")
    if splits and not splits & {"val", "test"}:
        ctx.report.warn("no val or test split: Ultralytics classify needs one to validate")


# --- reading -----------------------------------------------------------------------------------


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml  # here: writers emit YAML as text (`_yaml_text`) and skip this ~13 ms import

    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InputError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    except (ValueError, RecursionError) as error:  # an integer of 5,000 digits; deep nesting
        raise InputError(f"{path}: not valid YAML ({type(error).__name__}: {error})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with train, val and names")
    return data


def _names(data: dict[str, Any], path: Path) -> list[str]:
    names = data.get("names")
    if isinstance(names, list):
        return [str(n) for n in names]
    if isinstance(names, dict):
        if sorted(names, key=str) != sorted(range(len(names)), key=str):  # keys of any type
            raise InputError(f"{path}: names: keys must be 0..{len(names) - 1}; got "
                             f"{sorted(names, key=str)}")
        return [str(names[i]) for i in range(len(names))]
    if isinstance(data.get("nc"), int):
        return [f"class_{i}" for i in range(bounded_count(data["nc"], "nc", path))]
    raise InputError(f"{path}: names: expected a list or an index: name mapping")


def _labels_dir(images_dir: Path) -> Path:
    """Ultralytics' rule: the last ``images`` folder in the path becomes ``labels``."""
    parts = list(images_dir.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts)
    return images_dir


@dataclass(frozen=True, slots=True)
class _Entry:
    split: str
    label: Path
    image: Path
    path: str | None = None
    """The image's path below its split's images folder (None: its file name)."""


def _folder_entries(split: str, images_dir: Path, extra: ImageFolder | None,
                    yaml_path: Path) -> list[_Entry]:
    labels_dir = _labels_dir(images_dir)
    if not is_folder(images_dir) and not is_folder(labels_dir):
        raise InputError(f"{yaml_path}: {split}: folder {images_dir} does not exist")
    local = ImageFolder(images_dir, recursive=True)
    stems = set(local.stems())
    if labels_dir.is_dir():
        stems.update(p.relative_to(labels_dir).with_suffix("").as_posix()
                     for p in labels_dir.rglob("*.txt"))
    entries = []
    for stem in sorted(stems):
        image = local.find(stem) or (
            extra.find(stem) or extra.find(stem.rpartition("/")[2]) if extra else None)
        label = labels_dir / f"{stem}.txt"
        if image is None:
            raise InputError(f"{label}: its image {stem}.* is in neither {images_dir} nor the "
                             "images folder given (option images)")
        folder = stem.rpartition("/")[0]
        entries.append(_Entry(split, label, image, f"{folder}/{image.name}" if folder else None))
    return entries


def _list_entries(split: str, list_file: Path) -> list[_Entry]:
    entries = []
    for number, line in enumerate(rows.read_lines(list_file), 1):
        if not line.strip():
            continue
        image = (list_file.parent / line.strip()).resolve()
        if not is_image(image):
            raise InputError(f"{list_file}:{number}: image {line.strip()!r} not found")
        label = _labels_dir(image.parent) / f"{image.stem}.txt"
        entries.append(_Entry(split, label, image))
    return entries


def _entries(data: dict[str, Any], yaml_path: Path, extra: Path | None) -> list[_Entry]:
    root = yaml_path.parent
    if isinstance(data.get("path"), str) and data["path"]:
        root = root / data["path"]
    seen: set[Path] = set()
    entries: list[_Entry] = []
    for split in YAML_SPLITS:
        value = data.get(split)
        if not value:
            continue
        for target in value if isinstance(value, list) else [value]:
            resolved = (root / str(target)).resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            if resolved.suffix == ".txt" and is_regular_file(resolved):
                entries += _list_entries(split, resolved)
            else:
                folders = [ImageFolder(extra / resolved.name), ImageFolder(extra)] if extra else []
                found = next((f for f in folders if f.stems()), None)
                entries += _folder_entries(split, resolved, found, yaml_path)
    return entries


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    if options.get("task") == CLASSIFY:
        return class_folders.read(path, options)
    yaml_path = path / YAML_NAME if path.is_dir() else path
    if not yaml_path.is_file():
        raise InputError(f"{yaml_path}: no such file; a yolo import takes data.yaml or its folder")
    data = _load_yaml(yaml_path)
    names = _names(data, yaml_path)
    task = options.get("task") or "detect"
    n_keypoints: int | None = None
    flip_pairs: tuple[tuple[int, int], ...] = ()
    if "kpt_shape" in data:
        shape = data["kpt_shape"]
        if not (isinstance(shape, list) and len(shape) == 2 and shape[1] == 3
                and isinstance(shape[0], int) and shape[0] > 0):
            raise InputError(f"{yaml_path}: kpt_shape: expected [K, 3]; got {shape!r}")
        n_keypoints = bounded_count(shape[0], "kpt_shape[0]", yaml_path)
        flip = data.get("flip_idx") or []
        if not (isinstance(flip, list) and all(type(j) is int for j in flip)):
            raise InputError(f"{yaml_path}: flip_idx: expected a list of keypoint indices; got "
                             f"{flip!r:.200}")
        flip_pairs = tuple((i, j) for i, j in enumerate(flip) if i < j)
    images_option = options.get("images")
    entries = _entries(data, yaml_path, Path(images_option) if images_option else None)
    keypoint_names = tuple(f"kp{i}" for i in range(n_keypoints or 0))
    geometry = {"segment": GeometryKind.POLYGON, "obb": GeometryKind.ROTATED_BOX}.get(
        task, GeometryKind.KEYPOINTS if n_keypoints else GeometryKind.BOX)
    schema = rows.schema_from_names(names, geometry=geometry, keypoint_names=keypoint_names,
                                    flip_pairs=flip_pairs)

    def records() -> Iterator[ItemRecord]:
        for entry in entries:
            item = image_item(entry.image, entry.path)
            annotations = rows.read_label_file(entry.label, names=names, obb=task == "obb",
                                               n_keypoints=n_keypoints,
                                               image_wh=(item.width, item.height))
            yield ItemRecord(item=item, annotations=tuple(annotations), split=entry.split)

    return StreamSource(project=ProjectInfo(name=yaml_path.parent.name), schema=schema,
                        count=len(entries), open_records=records)


SPEC = FormatSpec(
    name="yolo",
    title="Ultralytics YOLO (detect, segment, obb, pose)",
    extension="txt",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.ROTATED_BOX, GeometryKind.POLYGON,
                          GeometryKind.KEYPOINTS}),
    conventions=Conventions(
        coordinates="fractions of the image width and height, 6 decimals, inside [0, 1]",
        index_base="class index from 0 in the schema's order",
        notes="detect: cls cx cy w h; segment: one ring per object (holes and parts bridged); "
              "obb: 4 corners clockwise from the top-left one before rotation; pose: box then "
              "x y v per keypoint, 0 0 0 when missing; data.yaml without path:; classify: "
              "{split}/{class}/{image}, class index in sorted folder order",
    ),
    splits=True,
    media=True,
    options=(
        OptionSpec(name="task", type=str, default="detect", choices=(*TASKS, CLASSIFY),
                   help="label rows: detect boxes, segment polygons, obb rotated boxes, or pose "
                        "keypoints; classify: class folders (image-level labels)"),
        CLASSIFICATION_OPTION,
        class_folders.UNLABELED_OPTION,
    ),
    writer=write,
    reader=read,
    merge_shards=merge_shards,
    merge_reads=(YAML_NAME,),
)
