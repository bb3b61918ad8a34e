"""Mask PNGs, as Innotescus and Segments.ai export them: five registered formats sharing one
layout, one rasteriser (`labelport.formats._shared.raster`) and one reader.

Layout::

    labelmap.txt          the legend: "background:0,0,0::", then "name:r,g,b::" per class in
                          schema order; the line's position (background 0) is the class value
    dataset_meta.json     the same legend as Datumaro reads it (`_shared.dataset_meta`):
                          label_map value -> name, segmentation_colors, background_label "0"
    classes.txt           per image (the Innotescus seed's file): "file: <image file name>",
                          then "<pixel value> <class name>" for each value in its mask
    splits/<split>.txt    the image file names of each split, one per line
    masks/<stem>.png      one per image (every variant but per_class), also without objects
    masks/<stem>/<class>.png      masks_per_class by class
    masks/<stem>/<class>_<n>.png  masks_per_class by instance (n: the instance number)
    masks/<stem>/_empty.png       masks_per_class: the all-zero bitmask of an image without objects
    images/<file name>    with media copied or linked

An item's path inside its dataset keeps its folders (``cam1/a.jpg``): ``images/cam1/a.jpg``,
``masks/cam1/a.png`` (``masks/cam1/a/<class>.png``), and ``cam1/a.jpg`` in ``classes.txt`` and
the split lists; the same path in a second dataset gets its dataset in its name, listed in the
manifest's ``report.renamed``.

The formats:
- ``masks_semantic``: 8-bit grey (``L``); pixel = class index + 1 in schema order, 0 background.
  More than 255 classes are refused.
- ``masks_semantic_color``: the same values in a palette PNG (``P``): index = class value, the
  palette shows each class in its schema colour (a class without one gets the VOC palette's
  colour of its value), background black. Reading it as indices gives masks_semantic's values.
- ``masks_instance``: 16-bit grey (``I;16``); pixel = the object's instance number, 1..N in the
  image's annotation order (the annotation's ``instance_id`` is not used: it may be unset,
  repeat across classes or exceed 65,535); ``classes.txt`` names each number's class.
- ``masks_instance_color``: the instance numbers in a palette PNG whose entry ``n`` is the colour
  of instance ``n``'s class: a viewer shows class colours, the indices still part instances. At
  most 255 instances per image; those beyond are not written (counted).
- ``masks_per_class``: one 0/255 grey bitmask per instance (option ``by=instance``, default) or
  per class present (``by=class``), named after the class (`safe_file_name`) and the instance
  number; each bitmask is the object's (or the class's) own pixels, so overlaps are kept and
  z-order plays no part. An image without objects gets one all-zero ``_empty.png``.

Conventions: pixels follow pycocotools' rasteriser, holes stay holes; in one mask per image the
higher ``z_order`` is on top and, between equal z-orders, the later annotation (see `_raster`).
Boxes, rotated boxes, polygons and masks are painted; polylines, keypoints and image-level
classes have no area and are not written (counted), nor are scores, attributes, tags and image
classifications. An object left with no visible pixel under others has no ``classes.txt`` row
(counted for the instance variants). Class names with ``:`` or a line break cannot be written in
``labelmap.txt`` and are refused.

Reading takes the export folder. With ``classes.txt``, it gives the images and, per image,
which value is which class; the schema is the ``schema`` option's class list when given (every
class ``classes.txt`` names must be in it), else ``labelmap.txt`` (when present) and the classes
it lacks in order of first appearance. Each value becomes one `Mask` annotation (instance
variants: ``instance_id`` = the value). Without ``classes.txt`` (semantic masks from another
tool), the semantic variants read every ``masks/**/*.png`` in path order with a
class list, the ``schema`` option or else ``labelmap.txt`` (`labelport.formats._shared.class_list`):
value k > 0 is the list's class k, and ``masks_semantic_color`` maps each pixel's colour (``P``,
``RGB`` or ``RGBA``, alpha ignored) to the class of that colour (`class_colors`), black
background; a value beyond the list, an unknown colour or one of two classes is an error naming
the mask. The item's name is the split list's name with the mask's stem, else the image's found
by stem, else the mask's own. The instance variants and ``masks_per_class`` cannot tell an
instance's class without ``classes.txt`` and refuse. Image sizes come from the mask PNGs;
media from the ``images`` option or ``images/``; splits from ``splits/``. Items get dataset
``default`` and the file name as path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from labelport.domain.geometry import GeometryKind
from labelport.domain.masks import bitmap_to_rle
from labelport.domain.model import DEFAULT_DATASET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.class_list import read_class_list
from labelport.formats._shared.dataset_meta import write_dataset_meta
from labelport.formats._shared.image_files import ImageFolder
from labelport.formats._shared.input_files import is_regular_file, open_image, read_text
from labelport.formats._shared.naming import FileNamer, file_stem, safe_file_name
from labelport.formats._shared.raster import (
    AREA_KINDS,
    PngOut,
    RasterJob,
    RasterObject,
    check_class_count,
    class_colors,
    id_to_rgb,
    palette_bytes,
    raster_objects,
    read_png,
    read_split_lists,
    render_all,
    rgb_to_id,
)
from labelport.formats.base import (
    Conventions,
    FormatSpec,
    OptionSpec,
    WriteContext,
    merge_by_copying,
)
from labelport.formats.voc.detection import check_labelmap_names, labelmap_classes

LABELMAP_FILE = "labelmap.txt"
CLASSES_FILE = "classes.txt"
MASKS_DIR = "masks"
IMAGES_DIR = "images"
SPLITS_DIR = "splits"
EMPTY_BITMASK = "_empty.png"
"""masks_per_class's all-zero bitmask of an image without objects (it gives the image's size)."""
_PROGRESS_EVERY = 100
_INSTANCE_LIMIT = {"uint8": 255, "uint16": 65535}
_COLOUR_MODES = ("P", "RGB", "RGBA")
"""What masks_semantic_color reads without ``classes.txt``, by colour."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Variant:
    name: str
    title: str
    instances: bool
    color: bool = False
    per_class: bool = False

    @property
    def encoding(self) -> str:
        return "uint16" if self.instances and not self.color else "uint8"

    @property
    def mode(self) -> str:
        return "P" if self.color else "I;16" if self.encoding == "uint16" else "L"

    @property
    def modes(self) -> tuple[str, ...]:
        """The modes the reader accepts: Pillow opens some 16-bit PNGs as ``I``."""
        return ("I;16", "I") if self.mode == "I;16" else (self.mode,)


SEMANTIC = _Variant(name="masks_semantic", title="Semantic masks (8-bit PNG)", instances=False)
SEMANTIC_COLOR = _Variant(name="masks_semantic_color", title="Semantic masks (palette PNG)",
                          instances=False, color=True)
INSTANCE = _Variant(name="masks_instance", title="Instance masks (16-bit PNG)", instances=True)
INSTANCE_COLOR = _Variant(name="masks_instance_color", title="Instance masks (palette PNG)",
                          instances=True, color=True)
PER_CLASS = _Variant(name="masks_per_class", title="Bitmasks per class or instance (PNG)",
                     instances=True, per_class=True)


# --- pure pieces -----------------------------------------------------------------------------


def labelmap_text(names: list[str], colors: list[tuple[int, int, int]]) -> str:
    """``labelmap.txt``: background first, so a line's position is its pixel value."""
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
    lines += [f"{n}:{r},{g},{b}::" for n, (r, g, b) in zip(names, colors, strict=True)]
    return "\n".join(lines) + "\n"


def bitmask_name(class_name: str, instance: int | None) -> str:
    """A per_class bitmask's file name: ``car.png``, or ``car_3.png`` for instance 3."""
    stem = safe_file_name(class_name)
    return f"{stem}.png" if instance is None else f"{stem}_{instance}.png"


def parse_classes_txt(text: str, origin: Path) -> list[tuple[str, list[tuple[int, str]]]]:
    """``classes.txt`` as ``(image file name, [(value, class name), ...])`` in file order."""
    images: list[tuple[str, list[tuple[int, str]]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.startswith("file:"):
            images.append((line[5:].strip(), []))
            continue
        value, _, name = line.partition(" ")
        if not images:
            raise InputError(f"{origin}: line {number}: expected 'file: <image name>' before "
                             f"the first '<value> <class>' row, got {line!r}")
        if not value.isdigit() or len(value) > 10 or not name:  # 10 digits hold any uint32
            raise InputError(f"{origin}: line {number}: expected '<pixel value> <class name>' "
                             f"or 'file: <image name>', got {line!r}")
        images[-1][1].append((int(value), name))
    return images


# --- writing ---------------------------------------------------------------------------------


def _check_names(schema: LabelSchema, variant: _Variant) -> None:
    check_labelmap_names(schema)
    if not variant.per_class:
        return
    seen: dict[str, str] = {}
    for cls in schema.classes:
        key = safe_file_name(cls.name).casefold()
        if key in seen:
            raise UnsupportedError(
                f"masks_per_class names bitmasks after classes, and {seen[key]!r} and "
                f"{cls.name!r} give the same file name; rename one of them")
        seen[key] = cls.name


def _job(variant: _Variant, objects: list[RasterObject], *, stem: str, out_dir: Path,
         item: Item, schema: LabelSchema, colors: list[tuple[int, int, int]], by_class: bool,
         ctx: WriteContext) -> tuple[RasterJob, list[tuple[int, str]]]:
    """The PNGs of one image and the ``classes.txt`` rows they may need (value, class)."""
    names = schema.class_names
    values: tuple[int | None, ...]
    if variant.per_class:
        outputs: list[PngOut] = []
        rows: list[tuple[int, str]] = []
        groups = (sorted({o.class_index for o in objects}) if by_class
                  else [o.instance for o in sorted(objects, key=lambda o: o.instance)])
        for key in groups:
            if by_class:
                values = tuple(255 if o.class_index == key else None for o in objects)
                rows.append((key + 1, names[key]))
                name = bitmask_name(names[key], None)
            else:
                obj = next(o for o in objects if o.instance == key)
                values = tuple(255 if o is obj else None for o in objects)
                rows.append((key, names[obj.class_index]))
                name = bitmask_name(names[obj.class_index], key)
            outputs.append(PngOut(path=out_dir / MASKS_DIR / stem / name, values=values))
        if not outputs:  # every image gets a mask, all zero without objects
            outputs.append(PngOut(path=out_dir / MASKS_DIR / stem / EMPTY_BITMASK, values=()))
        job = RasterJob(height=item.height, width=item.width,
                        geometries=tuple(o.geometry for o in objects), outputs=tuple(outputs))
        return job, rows
    if variant.instances:
        limit = _INSTANCE_LIMIT[variant.encoding]
        beyond = sum(o.instance > limit for o in objects)
        if beyond:
            ctx.report.count(f"not written: instance beyond {limit} in one image", beyond)
        objects = [o for o in objects if o.instance <= limit]
        values = tuple(o.instance for o in objects)
        rows = sorted((o.instance, names[o.class_index]) for o in objects)
        palette = None
        if variant.color:
            by_instance = dict.fromkeys(range(limit + 1), (0, 0, 0))
            by_instance.update((o.instance, colors[o.class_index]) for o in objects)
            palette = palette_bytes(list(by_instance.values()))
    else:
        values = tuple(o.class_index + 1 for o in objects)
        rows = sorted({(o.class_index + 1, names[o.class_index]) for o in objects})
        palette = palette_bytes([(0, 0, 0), *colors]) if variant.color else None
    out = PngOut(path=out_dir / MASKS_DIR / f"{stem}.png", values=values,
                 encoding="uint16" if variant.encoding == "uint16" else "uint8", palette=palette)
    job = RasterJob(height=item.height, width=item.width,
                    geometries=tuple(o.geometry for o in objects), outputs=(out,))
    return job, rows


def _write(source: ExportSource, out_dir: Path, options: Mapping[str, Any], ctx: WriteContext,
           *, variant: _Variant) -> None:
    schema = source.schema
    if not variant.instances:
        check_class_count(schema, limit=255, format_name=variant.name)
    _check_names(schema, variant)
    by_class = options.get("by", "instance") == "class"
    colors = class_colors(schema)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MASKS_DIR).mkdir(exist_ok=True)
    (out_dir / LABELMAP_FILE).write_text(labelmap_text(list(schema.class_names), colors),
                                         encoding="utf-8")
    write_dataset_meta(out_dir, list(schema.class_names), colors)
    namer = FileNamer(unique_stems=True, keep_folders=True, report=ctx.report)
    with ExitStack() as stack:
        split_files: dict[str, IO[str]] = {}
        classes = stack.enter_context(
            (out_dir / CLASSES_FILE).open("w", encoding="utf-8", newline="\n"))

        def jobs() -> Iterator[tuple[tuple[str, list[tuple[int, str]]], RasterJob]]:
            done = 0
            for done, record in enumerate(source.records(), start=1):
                file_name = namer.name(record.item)
                ctx.place_media(record.item, out_dir / IMAGES_DIR / file_name)
                split = safe_file_name(record.split or "train")
                if split not in split_files:
                    (out_dir / SPLITS_DIR).mkdir(exist_ok=True)
                    split_files[split] = stack.enter_context(
                        (out_dir / SPLITS_DIR / f"{split}.txt").open("w", encoding="utf-8",
                                                                     newline="\n"))
                split_files[split].write(f"{file_name}\n")
                objects = raster_objects(record, schema, ctx=ctx)
                job, rows = _job(variant, objects, stem=file_stem(file_name),
                                 out_dir=out_dir, item=record.item, schema=schema, colors=colors,
                                 by_class=by_class, ctx=ctx)
                yield (file_name, rows), job
                if done % _PROGRESS_EVERY == 0:
                    ctx.progress(done)
            ctx.progress(done)

        for (file_name, rows), results in render_all(
                jobs(), workers=options.get("workers", 0)):
            classes.write(f"file: {file_name}\n")
            visible = results[0] if results and not variant.per_class else None
            for value, name in rows:
                if visible is not None and value not in visible:
                    if variant.instances:
                        ctx.report.count("not written: object with no visible pixel (hidden "
                                         "under others or too thin)")
                    continue
                classes.write(f"{value} {name}\n")


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ClassList:
    """A schema that says which value (or colour) is which class, and the file it came from."""

    schema: LabelSchema
    origin: Path

    def colour_values(self) -> dict[int, list[int]]:
        """Each colour (packed as `rgb_to_id`) -> the values of the classes of that colour
        (`class_colors`), background 0 first under black: black is always background."""
        colours = [(0, 0, 0), *class_colors(self.schema)]
        values: dict[int, list[int]] = {}
        for value, key in enumerate(rgb_to_id(np.array(colours)).tolist()):
            values.setdefault(key, []).append(value)
        return values


def _given_classes(options: Mapping[str, Any]) -> _ClassList | None:
    given = options.get("schema")
    if not given:
        return None
    path = Path(given)
    return _ClassList(read_class_list(path, geometry=GeometryKind.MASK), path)


def _labelmap_schema(root: Path) -> LabelSchema:
    """The export's ``labelmap.txt`` (no class without one)."""
    labelmap = root / LABELMAP_FILE
    if not labelmap.is_file():
        return LabelSchema()
    return LabelSchema(classes=tuple(replace(c, geometry=GeometryKind.MASK)
                                     for c in labelmap_classes(labelmap)))


def _schema(root: Path, images: list[tuple[str, list[tuple[int, str]]]],
            given: _ClassList | None) -> LabelSchema:
    """The schema of an export with ``classes.txt``: the given one (every class it names must
    be in it), else ``labelmap.txt`` and the classes it lacks in order of first appearance."""
    seen = [name for _, rows in images for _, name in rows]
    if given is None:
        return _labelmap_schema(root).with_classes(seen, GeometryKind.MASK)
    known = set(given.schema.class_names)
    for name in seen:
        if name not in known:
            raise InputError(f"{root / CLASSES_FILE}: class {name!r} is not in the schema "
                             f"{given.origin}")
    return given.schema


@dataclass(frozen=True, slots=True)
class _Layout:
    root: Path
    variant: _Variant
    folders: tuple[ImageFolder, ...]
    splits: dict[str, str]

    def image(self, file_name: str) -> Path | None:
        for folder in self.folders:
            candidate = folder.folder / file_name
            if is_regular_file(candidate):
                return candidate
        return None

    def mask_files(self, file_name: str, rows: list[tuple[int, str]]) -> list[Path]:
        """The PNGs of one image; `InputError` when one is missing."""
        stem = file_stem(file_name)
        if not self.variant.per_class:
            files = [self.root / MASKS_DIR / f"{stem}.png"]
        elif not rows:
            files = [self.root / MASKS_DIR / stem / EMPTY_BITMASK]
        else:
            files = []
            for value, name in rows:
                by_instance = self.root / MASKS_DIR / stem / bitmask_name(name, value)
                files.append(by_instance if is_regular_file(by_instance)
                             else self.root / MASKS_DIR / stem / bitmask_name(name, None))
        for file in files:
            if not is_regular_file(file):
                shown = file.relative_to(self.root) if file.is_relative_to(self.root) else file
                raise InputError(f"{self.root / CLASSES_FILE}: {file_name!r} has no mask file "
                                 f"{shown.as_posix()}")
        return files

    def record(self, file_name: str, rows: list[tuple[int, str]]) -> ItemRecord:
        """An image of ``classes.txt``: ``rows`` say which value is which class."""
        files = self.mask_files(file_name, rows)
        modes = ("L",) if self.variant.per_class else self.variant.modes
        arrays = [read_png(f, modes) for f in files]
        return self.item_record(file_name, self.image(file_name), arrays, files, rows)

    def item_record(self, file_name: str, image: Path | None,
                    arrays: list[npt.NDArray[np.integer]], files: list[Path],
                    rows: list[tuple[int, str]]) -> ItemRecord:
        """One mask annotation per row: value ``v`` of ``arrays[0]`` (``arrays[k] > 0`` for
        per_class), instance variants with ``instance_id`` = the value."""
        height, width = arrays[0].shape[:2]
        annotations: list[Annotation] = []
        for k, (value, name) in enumerate(rows):
            bitmap = arrays[k] > 0 if self.variant.per_class else arrays[0] == value
            if bitmap.shape != (height, width):
                raise InputError(f"{files[k]}: expected a {width}x{height} bitmask like the "
                                 f"image's others, got {bitmap.shape[1]}x{bitmap.shape[0]}")
            if not bitmap.any():
                continue
            by_class = self.variant.per_class and files[k].name == bitmask_name(name, None)
            annotations.append(Annotation(
                label=name, geometry=bitmap_to_rle(bitmap),
                instance_id=value if self.variant.instances and not by_class else None))
        item = Item(dataset=DEFAULT_DATASET, path=file_name, width=int(width),
                    height=int(height), media_uri=str(image.absolute()) if image else None)
        return ItemRecord(item=item, annotations=tuple(annotations),
                          split=self.splits.get(file_name))


def _read_colours(path: Path) -> npt.NDArray[np.uint32]:
    """A colour mask's pixels packed as `rgb_to_id` (a palette PNG by its palette's colours);
    alpha is ignored."""
    with open_image(path) as image:
        if image.mode not in _COLOUR_MODES:
            raise InputError(f"{path}: expected a colour PNG (mode "
                             f"{' or '.join(_COLOUR_MODES)}), got {image.mode}")
        return rgb_to_id(np.asarray(image.convert("RGB")))


@dataclass(frozen=True, slots=True)
class _ByValue:
    """Semantic masks without ``classes.txt``: value ``v`` (or the colour of value ``v``) is
    class ``v - 1`` of the class list."""

    layout: _Layout
    classes: _ClassList
    colours: dict[int, list[int]]
    names_by_stem: dict[str, str]

    def values(self, mask: Path) -> npt.NDArray[np.integer]:
        """The mask's class values, each checked against the class list."""
        if not self.layout.variant.color:
            values = read_png(mask, self.layout.variant.modes)
            top, count = int(values.max(initial=0)), len(self.classes.schema.classes)
            if top > count:
                raise InputError(f"{mask}: pixel value {top}, but the class list "
                                 f"{self.classes.origin} has {count} classes (value k is "
                                 "class k, 0 background)")
            return values
        packed = _read_colours(mask)
        keys, inverse = np.unique(packed, return_inverse=True)
        names = ("background", *self.classes.schema.class_names)
        lookup = np.zeros(len(keys), dtype=np.uint16)
        for k, key in enumerate(keys.tolist()):
            found = self.colours.get(key, [])
            rgb = ",".join(map(str, id_to_rgb(np.array(key)).tolist()))
            if not found:
                raise InputError(f"{mask}: colour {rgb} is no class's colour in "
                                 f"{self.classes.origin} (nor background black)")
            if len(found) > 1 and found[0] != 0:
                raise InputError(f"{mask}: colour {rgb} is the colour of "
                                 f"{' and '.join(repr(names[v]) for v in found)} in "
                                 f"{self.classes.origin}; give each class its own colour")
            lookup[k] = found[0]
        return lookup[inverse].reshape(packed.shape)

    def record(self, mask: Path) -> ItemRecord:
        values = self.values(mask)
        names = self.classes.schema.class_names
        rows = [(v, names[v - 1]) for v in np.unique(values).tolist() if v]
        stem = mask.relative_to(self.layout.root / MASKS_DIR).with_suffix("").as_posix()
        image = next((found for folder in self.layout.folders
                      if (found := folder.find(stem)) is not None), None)
        folder = stem.rpartition("/")[0]
        own = f"{folder}/{image.name}" if image and folder else image.name if image else (
            f"{stem}.png")
        file_name = self.names_by_stem.get(stem) or own
        return self.layout.item_record(file_name, image, [values], [mask], rows)


def _read_classes_txt(layout: _Layout, given: _ClassList | None) -> ExportSource:
    classes_file = layout.root / CLASSES_FILE
    images = parse_classes_txt(read_text(classes_file), classes_file)
    schema = _schema(layout.root, images, given)
    for file_name, rows in images:
        layout.mask_files(file_name, rows)

    def records() -> Iterator[ItemRecord]:
        for file_name, rows in images:
            yield layout.record(file_name, rows)

    return StreamSource(project=ProjectInfo(name=layout.root.name), schema=schema,
                        count=len(images), open_records=records)


def _read_by_value(layout: _Layout, given: _ClassList | None) -> ExportSource:
    root, variant = layout.root, layout.variant
    if variant.instances:
        raise InputError(
            f"{root}: {variant.name} needs {CLASSES_FILE}, which names the class of each "
            f"instance value per image; a class list cannot (it maps values to classes only "
            f"for semantic masks)")
    labelmap = root / LABELMAP_FILE
    classes = given or (_ClassList(_labelmap_schema(root), labelmap) if labelmap.is_file()
                        else None)
    masks_dir = root / MASKS_DIR
    files = sorted(p for p in masks_dir.rglob("*")
                   if p.suffix.lower() == ".png" and p.is_file()) if masks_dir.is_dir() else []
    if classes is None or not files:
        raise InputError(
            f"{root}: expected a {variant.name} export: {CLASSES_FILE} and {MASKS_DIR}/, or "
            f"{MASKS_DIR}/*.png with a class list ({LABELMAP_FILE} or the schema option)")
    if not classes.schema.classes:
        raise InputError(f"{classes.origin}: the class list has no class")
    names_by_stem: dict[str, str] = {}
    for name in layout.splits:
        names_by_stem.setdefault(file_stem(name), name)
    by_value = _ByValue(layout=layout, classes=classes, names_by_stem=names_by_stem,
                        colours=classes.colour_values() if variant.color else {})

    def records() -> Iterator[ItemRecord]:
        for mask in files:
            yield by_value.record(mask)

    return StreamSource(project=ProjectInfo(name=root.name), schema=classes.schema,
                        count=len(files), open_records=records)


def _read(path: Path, options: Mapping[str, Any], *, variant: _Variant) -> ExportSource:
    root = Path(path)
    given = _given_classes(options)
    images = options.get("images")
    folders = tuple(ImageFolder(Path(d), recursive=True) for d in (images, root / IMAGES_DIR)
                    if d)
    layout = _Layout(root=root, variant=variant, folders=folders,
                     splits=read_split_lists(root / SPLITS_DIR))
    if (root / CLASSES_FILE).is_file():
        return _read_classes_txt(layout, given)
    return _read_by_value(layout, given)


def _spec(variant: _Variant) -> FormatSpec:
    values = ("class index + 1 in schema order, 0 background" if not variant.instances
              else "instance number 1..N in annotation order, 0 background")
    options = [OptionSpec(name="workers", type=int, default=0,
                          help="threads that rasterise and encode PNGs (0: one per CPU, "
                               "at most 8)"),
               OptionSpec(name="schema", type=str, default="", file=True,
                          help="reading: a class list file (labelmap.txt, one name per line, "
                               "or a schema .json) that gives the schema, over labelmap.txt; "
                               "without classes.txt, semantic value k is its class k")]
    if variant.per_class:
        options.insert(0, OptionSpec(name="by", type=str, default="instance",
                                     choices=("instance", "class"),
                                     help="one bitmask per instance or per class"))
    return FormatSpec(
        name=variant.name,
        title=variant.title,
        extension="png",
        geometries=AREA_KINDS,
        conventions=Conventions(
            coordinates="pixels of the image's size, rasterised by pycocotools",
            index_base=values if not variant.per_class else "bitmask 0 / 255",
            ids="instance numbers per image, 1-based" if variant.instances else "n/a",
            notes=f"PNG mode {'L' if variant.per_class else variant.mode}; higher z_order on "
                  "top, then later annotation; holes stay holes; labelmap.txt legend, "
                  "the same as Datumaro's dataset_meta.json (a repeated colour replaced there), "
                  "and classes.txt per image",
        ),
        splits=True,
        media=True,
        options=tuple(options),
        writer=partial(_write, variant=variant),
        reader=partial(_read, variant=variant),
        merge_shards=merge_by_copying,
    )


SEMANTIC_SPEC = _spec(SEMANTIC)
SEMANTIC_COLOR_SPEC = _spec(SEMANTIC_COLOR)
INSTANCE_SPEC = _spec(INSTANCE)
INSTANCE_COLOR_SPEC = _spec(INSTANCE_COLOR)
PER_CLASS_SPEC = _spec(PER_CLASS)
SPEC = SEMANTIC_SPEC
"""The registry test looks for ``SPEC``; the other mask SPECs are registered beside it."""
