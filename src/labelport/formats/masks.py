"""Mask PNGs, as Innotescus and Segments.ai export them: five registered formats sharing one
layout, one rasteriser (`labelport.formats._raster`) and one reader.

Layout::

    labelmap.txt          the legend: "background:0,0,0::", then "name:r,g,b::" per class in
                          schema order; the line's position (background 0) is the class value
    classes.txt           per image (the Innotescus seed's file): "file: <image file name>",
                          then "<pixel value> <class name>" for each value in its mask
    splits/<split>.txt    the image file names of each split, one per line
    masks/<stem>.png      one per image (every variant but per_class), also without objects
    masks/<stem>/<class>.png      masks_per_class by class
    masks/<stem>/<class>_<n>.png  masks_per_class by instance (n: the instance number)
    masks/<stem>/_empty.png       masks_per_class: the all-zero bitmask of an image without objects
    images/<file name>    with media copied or linked

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

Reading takes the export folder: ``classes.txt`` gives the images and, per image, which value
is which class; ``labelmap.txt`` (when present) the schema, else the classes in order of first
appearance. Each value becomes one `Mask` annotation (instance variants: ``instance_id`` = the
value). Image sizes come from the mask PNGs;
media from the ``images`` option or ``images/``; splits from ``splits/``. Items get dataset
``default`` and the file name as path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO, Any

from labelport.domain.geometry import GeometryKind
from labelport.domain.masks import bitmap_to_rle
from labelport.domain.model import DEFAULT_DATASET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._image_files import ImageFolder
from labelport.formats._naming import FileNamer, safe_file_name
from labelport.formats._raster import (
    AREA_KINDS,
    PngOut,
    RasterJob,
    RasterObject,
    check_class_count,
    class_colors,
    palette_bytes,
    raster_objects,
    read_png,
    read_split_lists,
    render_all,
)
from labelport.formats.base import Conventions, FormatSpec, OptionSpec, WriteContext
from labelport.formats.voc import check_labelmap_names, labelmap_classes

LABELMAP_FILE = "labelmap.txt"
CLASSES_FILE = "classes.txt"
MASKS_DIR = "masks"
IMAGES_DIR = "images"
SPLITS_DIR = "splits"
EMPTY_BITMASK = "_empty.png"
"""masks_per_class's all-zero bitmask of an image without objects (it gives the image's size)."""
_PROGRESS_EVERY = 100
_INSTANCE_LIMIT = {"uint8": 255, "uint16": 65535}


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
        if not value.isdigit() or not name:
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
    namer = FileNamer(unique_stems=True)
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
                job, rows = _job(variant, objects, stem=PurePosixPath(file_name).stem,
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


def _schema(root: Path, images: list[tuple[str, list[tuple[int, str]]]]) -> LabelSchema:
    labelmap = root / LABELMAP_FILE
    classes: tuple[LabelClass, ...] = ()
    if labelmap.is_file():
        classes = tuple(replace(c, geometry=GeometryKind.MASK)
                        for c in labelmap_classes(labelmap))
    seen = [name for _, rows in images for _, name in rows]
    return LabelSchema(classes=classes).with_classes(seen, GeometryKind.MASK)


@dataclass(frozen=True, slots=True)
class _Layout:
    root: Path
    variant: _Variant
    images: list[tuple[str, list[tuple[int, str]]]]
    folders: tuple[ImageFolder, ...]
    splits: dict[str, str]

    def image(self, file_name: str) -> Path | None:
        for folder in self.folders:
            candidate = folder.folder / file_name
            if candidate.is_file():
                return candidate
        return None

    def mask_files(self, file_name: str, rows: list[tuple[int, str]]) -> list[Path]:
        """The PNGs of one image; `InputError` when one is missing."""
        stem = PurePosixPath(file_name).stem
        if not self.variant.per_class:
            files = [self.root / MASKS_DIR / f"{stem}.png"]
        elif not rows:
            files = [self.root / MASKS_DIR / stem / EMPTY_BITMASK]
        else:
            files = []
            for value, name in rows:
                by_instance = self.root / MASKS_DIR / stem / bitmask_name(name, value)
                files.append(by_instance if by_instance.is_file()
                             else self.root / MASKS_DIR / stem / bitmask_name(name, None))
        for file in files:
            if not file.is_file():
                raise InputError(f"{self.root / CLASSES_FILE}: {file_name!r} has no mask file "
                                 f"{file.relative_to(self.root).as_posix()}")
        return files

    def record(self, file_name: str, rows: list[tuple[int, str]]) -> ItemRecord:
        files = self.mask_files(file_name, rows)
        image = self.image(file_name)
        modes = ("L",) if self.variant.per_class else self.variant.modes
        arrays = [read_png(f, modes) for f in files]
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


def _read(path: Path, options: Mapping[str, Any], *, variant: _Variant) -> ExportSource:
    root = Path(path)
    classes_file = root / CLASSES_FILE
    if not classes_file.is_file():
        raise InputError(f"{root}: expected a {variant.name} export with {CLASSES_FILE} "
                         f"(and {MASKS_DIR}/)")
    images = parse_classes_txt(classes_file.read_text(encoding="utf-8"), classes_file)
    given = options.get("images")
    folders = tuple(ImageFolder(Path(d)) for d in (given, root / IMAGES_DIR) if d)
    layout = _Layout(root=root, variant=variant, images=images, folders=folders,
                     splits=read_split_lists(root / SPLITS_DIR))
    for file_name, rows in images:
        layout.mask_files(file_name, rows)

    def records() -> Iterator[ItemRecord]:
        for file_name, rows in layout.images:
            yield layout.record(file_name, rows)

    return StreamSource(project=ProjectInfo(name=root.name), schema=_schema(root, images),
                        count=len(images), open_records=records)


def _spec(variant: _Variant) -> FormatSpec:
    values = ("class index + 1 in schema order, 0 background" if not variant.instances
              else "instance number 1..N in annotation order, 0 background")
    options = [OptionSpec(name="workers", type=int, default=0,
                          help="threads that rasterise and encode PNGs (0: one per CPU, "
                               "at most 8)")]
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
                  "top, then later annotation; holes stay holes; labelmap.txt legend and "
                  "classes.txt per image",
        ),
        splits=True,
        media=True,
        options=tuple(options),
        writer=partial(_write, variant=variant),
        reader=partial(_read, variant=variant),
    )


SEMANTIC_SPEC = _spec(SEMANTIC)
SEMANTIC_COLOR_SPEC = _spec(SEMANTIC_COLOR)
INSTANCE_SPEC = _spec(INSTANCE)
INSTANCE_COLOR_SPEC = _spec(INSTANCE_COLOR)
PER_CLASS_SPEC = _spec(PER_CLASS)
SPEC = SEMANTIC_SPEC
"""The registry test looks for ``SPEC``; the other mask SPECs are registered beside it."""
