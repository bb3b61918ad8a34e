"""KITTI semantic and instance segmentation PNGs, laid out as Datumaro's ``kitti_segmentation``
(and CVAT's "KITTI 1.0") reads and writes them.

Layout::

    label_colors.txt                "r g b name" per class value: 0 background, then each class
                                    in schema order (its KITTI type: white space as '_')
    classes.tsv                     "type<TAB>name": each type back to its class name
    {split}/semantic/{stem}.png     8-bit grey: class value (0 background)
    {split}/semantic_rgb/{stem}.png RGB: each class value's colour from label_colors.txt
    {split}/instance/{stem}.png     16-bit grey: class value * 256 + instance (KITTI's encoding)
    {split}/image_2/{file name}     with media copied or linked

Conventions:
- Class value k (1..255) is the schema's k-th class; 0 is background. More than 255 classes are
  refused (the class is the instance PNG's high byte).
- An instance PNG pixel is ``class * 256 + n``: ``n`` numbers the objects of that class on the
  image 1..255 in annotation order (the annotation's ``instance_id`` is not used: it may be unset
  or too large); objects of a class beyond 255 on one image are not written (counted). Datumaro
  reads ``n = 0`` as a crowd region without instance; labelport never writes one.
- Colours: the class's schema colour, else the VOC palette's colour of its value (`class_colors`);
  background black.
- Pixels follow pycocotools' rasteriser, holes stay holes; where objects overlap the higher
  ``z_order`` is on top, then the later annotation (`labelport.formats._shared.raster`).
  Boxes, rotated boxes, polygons and masks are painted; polylines, keypoints and image-level
  classes have no area and are not written (counted), nor are scores, attributes and image
  classifications. Every image gets its three PNGs, background only without objects.

Reading takes the export folder: each ``{split}/instance/`` (else ``{split}/semantic/``) folder
of PNGs, a split named by its folder. Class values map to ``label_colors.txt``'s lines (its
first line is the background, whatever its name; colours become the classes' colours), types to
names through ``classes.tsv``; without ``label_colors.txt`` the classes are ``class_<k>``. Each
instance value becomes one `Mask` with ``instance_id`` n (n = 0: a mask without instance id,
flagged crowd as KITTI means it); from ``semantic/`` alone, one mask per class value. The image
is ``{split}/image_2/{stem}.*``, else the file of that stem in the ``images`` option's folder
(else the item is ``{stem}.png`` without media); sizes come from the PNGs. Items get dataset
``default``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from labelport.domain.model import DEFAULT_DATASET, Item, ItemRecord, ProjectInfo
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError
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

SEMANTIC_DIR = "semantic"
SEMANTIC_RGB_DIR = "semantic_rgb"
INSTANCE_DIR = "instance"
IMAGES_DIR = "image_2"
_LIMIT = 255
_PROGRESS_EVERY = 100


# --- pure pieces -----------------------------------------------------------------------------


def instance_values(class_values: list[int]) -> list[int | None]:
    """``class * 256 + n`` for objects given in annotation order by class value, n counting
    each class's objects from 1; None past the 255th of a class."""
    seen: Counter[int] = Counter()
    values: list[int | None] = []
    for value in class_values:
        seen[value] += 1
        values.append(value * 256 + seen[value] if seen[value] <= _LIMIT else None)
    return values


# --- writing ---------------------------------------------------------------------------------


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """The three PNGs of every image, and the class files."""
    schema = source.schema
    check_class_count(schema, limit=_LIMIT, format_name="kitti_segmentation")
    write_class_files(out_dir, schema, format_name="kitti_segmentation")
    rgb = class_rgb_ids(schema)
    namer = FileNamer(unique_stems=True, report=ctx.report)

    def jobs() -> Iterator[tuple[None, RasterJob]]:
        done = 0
        for done, record in enumerate(source.records(), start=1):
            split = safe_file_name(record.split or "train")
            file_name = namer.name(record.item, split)
            stem = file_stem(file_name)
            ctx.place_media(record.item, out_dir / split / IMAGES_DIR / file_name)
            objects = raster_objects(record, schema, ctx=ctx)
            by_annotation = sorted(objects, key=lambda o: o.instance)
            numbered = dict(zip((o.instance for o in by_annotation),
                                instance_values([o.class_index + 1 for o in by_annotation]),
                                strict=True))
            beyond = sum(value is None for value in numbered.values())
            if beyond:
                ctx.report.count(f"not written: object beyond {_LIMIT} of a class in one image",
                                 beyond)
                objects = [o for o in objects if numbered[o.instance] is not None]
            folder = out_dir / split
            yield None, RasterJob(
                height=record.item.height, width=record.item.width,
                geometries=tuple(o.geometry for o in objects),
                outputs=(
                    PngOut(path=folder / SEMANTIC_DIR / f"{stem}.png",
                           values=tuple(o.class_index + 1 for o in objects)),
                    PngOut(path=folder / SEMANTIC_RGB_DIR / f"{stem}.png", encoding="rgb_id",
                           values=tuple(rgb[o.class_index] for o in objects)),
                    PngOut(path=folder / INSTANCE_DIR / f"{stem}.png", encoding="uint16",
                           values=tuple(numbered[o.instance] for o in objects)),
                ))
            if done % _PROGRESS_EVERY == 0:
                ctx.progress(done)
        ctx.progress(done)

    for _ in render_all(jobs(), workers=options.get("workers", 0)):
        pass


# --- reading ---------------------------------------------------------------------------------


def _instance_decode(value: int) -> tuple[int, int | None]:
    """``class * 256 + n`` of the instance PNGs; n = 0 is a crowd (no instance)."""
    return value >> 8, (value & 255) or None


def _semantic_decode(value: int) -> tuple[int, int | None]:
    return value, None


def _split_folders(root: Path) -> list[tuple[str, Path, bool]]:
    """(split, PNG folder, whether it holds instance PNGs) of each split folder."""
    if not root.is_dir():
        raise InputError(f"{root}: expected a KITTI segmentation folder "
                         f"({{split}}/{INSTANCE_DIR}/ or {{split}}/{SEMANTIC_DIR}/)")
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if (folder / INSTANCE_DIR).is_dir():
            found.append((folder.name, folder / INSTANCE_DIR, True))
        elif (folder / SEMANTIC_DIR).is_dir():
            found.append((folder.name, folder / SEMANTIC_DIR, False))
    if not found:
        raise InputError(f"{root}: no {{split}}/{INSTANCE_DIR}/ or {{split}}/{SEMANTIC_DIR}/ "
                         "folder")
    return found


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    root = Path(path)
    splits = _split_folders(root)
    files = [(split, png, instances) for split, folder, instances in splits
             for png in sorted(folder.glob("*.png"))]
    largest = 0 if (root / LABEL_COLORS_FILE).is_file() else max(
        (int(read_png(f, ("I;16", "I", "L")).max()) >> (8 if i else 0) for _, f, i in files),
        default=0)
    schema = read_class_files(root, limit=_LIMIT, largest=largest)
    names = schema.class_names
    given = options.get("images")
    extra = ImageFolder(Path(given)) if given else None
    images = {split: ImageFolder(root / split / IMAGES_DIR) for split, _, _ in splits}

    def record(split: str, png: Path, instances: bool) -> ItemRecord:
        values = read_png(png, ("I;16", "I", "L") if instances else ("L",))
        height, width = values.shape
        image = images[split].find(png.stem) or (extra.find(png.stem) if extra else None)
        item = Item(dataset=DEFAULT_DATASET, path=image.name if image else png.name,
                    width=width, height=height,
                    media_uri=str(image.absolute()) if image else None)
        return ItemRecord(item=item, split=split, annotations=tuple(
            label_map_objects(png, values, names,
                              decode=_instance_decode if instances else _semantic_decode,
                              crowd_without_instance=instances)))

    def records() -> Iterator[ItemRecord]:
        for split, png, instances in files:
            yield record(split, png, instances)

    return StreamSource(project=ProjectInfo(name=root.name), schema=schema, count=len(files),
                        open_records=records)


SPEC = FormatSpec(
    name="kitti_segmentation",
    title="KITTI segmentation (semantic and instance PNGs)",
    extension="png",
    geometries=AREA_KINDS,
    conventions=Conventions(
        coordinates="pixels of the image's size, rasterised by pycocotools",
        index_base="class value = class index + 1 in schema order, 0 background",
        ids="instance PNG: class * 256 + n, n = 1..255 per class in annotation order",
        notes="semantic/ 8-bit, semantic_rgb/ class colours, instance/ 16-bit; "
              "label_colors.txt 'r g b type' with background first; classes.tsv maps types "
              "back to names; higher z_order on top, then later annotation; holes stay holes",
    ),
    splits=True,
    media=True,
    options=(
        OptionSpec(name="workers", type=int, default=0,
                   help="threads that rasterise and encode PNGs (0: one per CPU, at most 8)"),
    ),
    writer=write,
    reader=read,
    merge_shards=merge_by_copying,
)
