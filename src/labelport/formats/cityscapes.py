"""Cityscapes (``gtFine``): per image a class PNG, an instance PNG, a colour PNG and the polygons
JSON, with the images under ``leftImg8bit/``, as cityscapesScripts and Datumaro
(``cityscapes``) lay them out.

Layout::

    label_colors.txt                                   "r g b name" per class value, background
                                                       first (Datumaro's), names as tokens
    classes.tsv                                        "type<TAB>name": tokens back to names
    gtFine/{split}/{city}/{name}_gtFine_labelIds.png     8-bit grey: class value, 0 background
    gtFine/{split}/{city}/{name}_gtFine_instanceIds.png  16-bit grey: class * 1000 + n, or the
                                                         class value (see below)
    gtFine/{split}/{city}/{name}_gtFine_color.png        RGB: each class's colour
    gtFine/{split}/{city}/{name}_gtFine_polygons.json    imgHeight, imgWidth, objects
    leftImg8bit/{split}/{city}/{name}_leftImg8bit.{ext}  with media copied or linked

Conventions:
- ``{city}`` is the item's dataset (a safe file name), ``{name}`` its file name without the
  extension (unique per city folder), ``{split}`` the record's split (``train`` when none). Real
  Cityscapes names are ``{city}_{seq}_{frame}``; any name reads back.
- Class value k is the schema's k-th class; 0 is background ("unlabeled" in Cityscapes).
- ``instanceIds`` follows cityscapesScripts' ``json2instanceImg``: an object is ``class * 1000 +
  n``, ``n`` counting that class's objects on the image from 0 in annotation order; a crowd
  object (Cityscapes' "group", e.g. ``cargroup``) is its class value alone. At most 64 classes
  (``64 * 1000 + 999`` still fits 16 bits) and 1,000 objects of a class per image (those beyond
  are not written, counted). With option ``instances=false`` every object is its class value
  (semantic only, as Datumaro's own exporter writes it; up to 255 classes).
- ``_polygons.json`` lists the objects in paint order (later on top), each ``{"label",
  "polygon": [[x, y], ...]}`` in pixels: a box or rotated box as its 4 corners, each part of a
  polygon as one object; a crowd object's label gets ``group`` appended. Holes and masks cannot
  be Cityscapes polygons: they are in the PNGs only (counted).
- Pixels follow pycocotools' rasteriser, holes stay holes; where objects overlap the higher
  ``z_order`` is on top, then the later annotation (`labelport.formats._shared.raster`). Boxes,
  rotated boxes, polygons and masks are painted; polylines, keypoints and image-level classes
  are not written (counted), nor are scores, attributes and image classifications.

Reading takes the export folder: ``gtFine/{split}/{city}/*_gtFine_instanceIds.png`` (else
``*_gtFine_labelIds.png``). Classes come from ``label_colors.txt`` and ``classes.tsv``
(`labelport.formats._shared.label_colors`), else ``class_<k>``. An instance value ``v >= 1000``
is a mask of class ``v // 1000`` with ``instance_id`` ``v % 1000``; a smaller value is one mask
of that class without instance id, flagged crowd in an instance PNG (a region without instances:
a group, or a class without instances) and not in a class PNG. The image is
``leftImg8bit/{split}/{city}/{name}_leftImg8bit.*``, else the file ``{name}.*`` in the ``images``
option's folder; the item is that file's name (else ``{name}.png`` without media) in dataset
``{city}``; sizes come from the PNGs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from labelport.domain.geometry import Box, Polygon, RotatedBox
from labelport.domain.geometry_ops import rotated_box_corners
from labelport.domain.model import Item, ItemRecord, ProjectInfo
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.image_files import ImageFolder
from labelport.formats._shared.label_colors import (
    LABEL_COLORS_FILE,
    class_rgb_ids,
    label_map_objects,
    read_class_files,
    write_class_files,
)
from labelport.formats._shared.naming import FileNamer, file_stem, safe_file_name
from labelport.formats._shared.raster import (
    AREA_KINDS,
    PngOut,
    RasterJob,
    RasterObject,
    check_class_count,
    raster_objects,
    read_png,
    render_all,
)
from labelport.formats.base import (
    Conventions,
    FormatSpec,
    OptionSpec,
    WriteContext,
    merge_by_copying,
)

GT_DIR = "gtFine"
IMAGES_DIR = "leftImg8bit"
LABEL_IDS = "_gtFine_labelIds.png"
INSTANCE_IDS = "_gtFine_instanceIds.png"
COLOR = "_gtFine_color.png"
POLYGONS = "_gtFine_polygons.json"
IMAGE_SUFFIX = "_leftImg8bit"
_CLASS_LIMIT = 255
_INSTANCE_CLASS_LIMIT = 64
_PER_CLASS = 1000
_PROGRESS_EVERY = 100


# --- pure pieces -----------------------------------------------------------------------------


def instance_ids(class_values: list[int], crowd: list[bool]) -> list[int | None]:
    """cityscapesScripts' ids for objects given in annotation order: ``class * 1000 + n`` with
    n counting each class's objects from 0, a crowd object its class value; None past the
    1,000th object of a class."""
    seen: Counter[int] = Counter()
    ids: list[int | None] = []
    for value, is_crowd in zip(class_values, crowd, strict=True):
        if is_crowd:
            ids.append(value)
            continue
        n = seen[value]
        seen[value] += 1
        ids.append(value * _PER_CLASS + n if n < _PER_CLASS else None)
    return ids


def polygon_objects(obj: RasterObject, *, ctx: WriteContext) -> list[dict[str, Any]]:
    """The ``_polygons.json`` objects of one painted object (none for a mask, counted)."""
    geometry = obj.geometry
    label = obj.annotation.label + ("group" if obj.annotation.crowd else "")
    rings: list[tuple[float, ...]]
    match geometry:
        case Box():
            rings = [(geometry.x, geometry.y, geometry.x + geometry.w, geometry.y,
                      geometry.x + geometry.w, geometry.y + geometry.h,
                      geometry.x, geometry.y + geometry.h)]
        case RotatedBox():
            rings = [rotated_box_corners(geometry)]
        case Polygon():
            if any(part.holes for part in geometry.parts):
                ctx.report.count(f"not in {POLYGONS}: polygon holes (in the PNGs)")
            rings = [part.outer for part in geometry.parts]
        case _:
            ctx.report.count(f"not in {POLYGONS}: {geometry.kind.value} (in the PNGs)")
            return []
    return [{"label": label,
             "polygon": [[ring[i], ring[i + 1]] for i in range(0, len(ring), 2)]}
            for ring in rings]


# --- writing ---------------------------------------------------------------------------------


def _ids(objects: list[RasterObject], *, instances: bool,
         ctx: WriteContext) -> dict[int, int | None]:
    """Each object's instance PNG value, by its instance number (annotation order)."""
    by_annotation = sorted(objects, key=lambda o: o.instance)
    classes = [o.class_index + 1 for o in by_annotation]
    values: list[int | None] = list(classes)
    if instances:
        values = instance_ids(classes, [o.annotation.crowd for o in by_annotation])
    beyond = sum(value is None for value in values)
    if beyond:
        ctx.report.count(f"not written: object beyond {_PER_CLASS} of a class in one image",
                         beyond)
    return dict(zip((o.instance for o in by_annotation), values, strict=True))


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """The four files of every image, the images, and the class files."""
    schema = source.schema
    instances = bool(options.get("instances", True))
    if instances and len(schema.classes) > _INSTANCE_CLASS_LIMIT:
        raise UnsupportedError(
            f"cityscapes writes instances as class * 1000 + n in 16 bits, which holds "
            f"{_INSTANCE_CLASS_LIMIT} classes, and the schema has {len(schema.classes)}; drop or "
            "merge classes, or export with instances=false (class values only, up to 255)")
    check_class_count(schema, limit=_CLASS_LIMIT, format_name="cityscapes")
    write_class_files(out_dir, schema, format_name="cityscapes")
    rgb = class_rgb_ids(schema)
    namer = FileNamer(unique_stems=True, report=ctx.report)

    def jobs() -> Iterator[tuple[None, RasterJob]]:
        done = 0
        for done, record in enumerate(source.records(), start=1):
            split = safe_file_name(record.split or "train")
            city = safe_file_name(record.item.dataset)
            file_name = namer.name(record.item, f"{split}/{city}")
            name, suffix = file_stem(file_name), file_name[len(file_stem(file_name)):]
            ctx.place_media(record.item, out_dir / IMAGES_DIR / split / city /
                            f"{name}{IMAGE_SUFFIX}{suffix}")
            objects = raster_objects(record, schema, ctx=ctx)
            ids = _ids(objects, instances=instances, ctx=ctx)
            objects = [o for o in objects if ids[o.instance] is not None]
            folder = out_dir / GT_DIR / split / city
            folder.mkdir(parents=True, exist_ok=True)
            polygons = {"imgHeight": record.item.height, "imgWidth": record.item.width,
                        "objects": [p for o in objects for p in polygon_objects(o, ctx=ctx)]}
            ctx.files.write_text(folder / f"{name}{POLYGONS}",
                                 orjson.dumps(polygons).decode() + "\n")
            yield None, RasterJob(
                height=record.item.height, width=record.item.width,
                geometries=tuple(o.geometry for o in objects),
                outputs=(
                    PngOut(path=folder / f"{name}{LABEL_IDS}",
                           values=tuple(o.class_index + 1 for o in objects)),
                    PngOut(path=folder / f"{name}{INSTANCE_IDS}", encoding="uint16",
                           values=tuple(ids[o.instance] for o in objects)),
                    PngOut(path=folder / f"{name}{COLOR}", encoding="rgb_id",
                           values=tuple(rgb[o.class_index] for o in objects)),
                ))
            if done % _PROGRESS_EVERY == 0:
                ctx.progress(done)
        ctx.progress(done)

    for _ in render_all(jobs(), workers=options.get("workers", 0)):
        pass


# --- reading ---------------------------------------------------------------------------------


def _decode(value: int) -> tuple[int, int | None]:
    """``class * 1000 + n`` from 1000 up; a class value alone (a crowd) below."""
    return divmod(value, _PER_CLASS) if value >= _PER_CLASS else (value, None)


def _files(root: Path) -> list[tuple[str, str, Path]]:
    """(split, city, PNG) of every instance PNG (else class PNG), in path order."""
    gt = root / GT_DIR
    if not gt.is_dir():
        raise InputError(f"{root}: expected a Cityscapes folder with {GT_DIR}/{{split}}/{{city}}/")
    found: list[tuple[str, str, Path]] = []
    for split in sorted(p for p in gt.iterdir() if p.is_dir()):
        for city in sorted(p for p in split.iterdir() if p.is_dir()):
            pngs = sorted(city.glob(f"*{INSTANCE_IDS}")) or sorted(city.glob(f"*{LABEL_IDS}"))
            found += [(split.name, city.name, png) for png in pngs]
    return found


def _largest_class(files: list[tuple[str, str, Path]]) -> int:
    top = 0
    for *_, png in files:
        value = int(read_png(png, ("I;16", "I", "L")).max())
        top = max(top, value // _PER_CLASS if value >= _PER_CLASS else value)
    return top


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    root = Path(path)
    files = _files(root)
    largest = 0 if (root / LABEL_COLORS_FILE).is_file() else _largest_class(files)
    schema = read_class_files(root, limit=_CLASS_LIMIT, largest=largest)
    names = schema.class_names
    given = options.get("images")
    extra = ImageFolder(Path(given)) if given else None
    folders: dict[Path, ImageFolder] = {}

    def image(split: str, city: str, name: str) -> Path | None:
        folder = root / IMAGES_DIR / split / city
        if folder not in folders:
            folders[folder] = ImageFolder(folder)
        found = folders[folder].find(f"{name}{IMAGE_SUFFIX}")
        return found or (extra.find(name) if extra else None)

    def record(split: str, city: str, png: Path) -> ItemRecord:
        values = read_png(png, ("I;16", "I", "L"))
        height, width = values.shape
        name = png.name[:-len(INSTANCE_IDS if png.name.endswith(INSTANCE_IDS) else LABEL_IDS)]
        found = image(split, city, name)
        path = f"{name}{found.suffix}" if found else f"{name}.png"
        item = Item(dataset=city, path=path, width=width, height=height,
                    media_uri=str(found.absolute()) if found else None)
        return ItemRecord(item=item, split=split, annotations=tuple(label_map_objects(
            png, values, names, decode=_decode,
            crowd_without_instance=png.name.endswith(INSTANCE_IDS))))

    def records() -> Iterator[ItemRecord]:
        for split, city, png in files:
            yield record(split, city, png)

    return StreamSource(project=ProjectInfo(name=root.name), schema=schema, count=len(files),
                        open_records=records)


SPEC = FormatSpec(
    name="cityscapes",
    title="Cityscapes (gtFine label, instance and colour PNGs, polygons JSON)",
    extension="png",
    geometries=AREA_KINDS,
    conventions=Conventions(
        coordinates="pixels of the image's size, rasterised by pycocotools; polygons JSON in "
                    "pixels",
        index_base="class value = class index + 1 in schema order, 0 background",
        ids="instanceIds: class * 1000 + n, n from 0 per class in annotation order; a crowd "
            "object its class value (option instances=false: class values only)",
        notes="gtFine/{split}/{city}/{name}_gtFine_*; city = the item's dataset; "
              "leftImg8bit/{split}/{city}/{name}_leftImg8bit.ext; label_colors.txt "
              "background first; holes and masks only in the PNGs",
    ),
    splits=True,
    media=True,
    options=(
        OptionSpec(name="instances", type=bool, default=True,
                   help="instanceIds as class * 1000 + n (false: class values only)"),
        OptionSpec(name="workers", type=int, default=0,
                   help="threads that rasterise and encode PNGs (0: one per CPU, at most 8)"),
    ),
    writer=write,
    reader=read,
    merge_shards=merge_by_copying,
)
