"""Pascal VOC segmentation: class and object PNGs in the VOC palette, as the devkit, CVAT
("Segmentation mask 1.1") and Datumaro (``voc_segmentation``) lay them out.

Layout::

    labelmap.txt                        "background:0,0,0::", then "name:r,g,b::" per class in
                                        schema order; r,g,b is the class's colour in the PNGs
    SegmentationClass/<stem>.png        palette PNG (P): index = class index + 1, 0 background
    SegmentationObject/<stem>.png       palette PNG (P): index = instance number 1..N
    ImageSets/Segmentation/<split>.txt  the stems of each split
    JPEGImages/<file name>              with media copied or linked; images keep their format
    Annotations/<stem>.xml              with option detection=true: the VOC detection export
    ImageSets/Main/<split>.txt          (written by `labelport.formats.voc.detection`, same stems)

An item's path inside its dataset keeps its folders (``cam1/a.jpg``): its stem is ``cam1/a``
in every folder above and in the split lists; the same path in a second dataset gets its dataset
in its name, listed in the manifest's ``report.renamed``.

Conventions:
- Both PNGs use the VOC palette (the devkit's ``labelcolormap``: colour of index ``i`` from its
  bits; 0 black): the class colours are the palette's, not the schema's, as every VOC reader
  expects. Index 255 is VOC's "void" (object borders in the devkit's own masks); labelport never
  writes it, and the reader ignores it. At most 254 classes (refused otherwise) and 254 objects
  per image (those beyond are not written, counted).
- Instance numbers follow the image's annotation order; pixels are rasterised by pycocotools,
  holes stay holes, and where objects overlap the higher ``z_order`` is on top (then the later
  annotation), in both PNGs alike (`labelport.formats._shared.raster`).
- Boxes, rotated boxes, polygons and masks are painted; polylines, keypoints and image-level
  classes are not written (counted), nor are scores, attributes and image classifications
  (unless ``detection`` writes attributes into the XML). Every image gets both PNGs, all zero
  without objects.
- ``detection=true`` also writes VOC detection (`voc.detection`'s writer and options
  ``one_based`` and ``attributes``): each object's box, in the same folder; its conversions
  (polygon to its box, ...) are counted in the same report.

Reading takes the export folder: the classes from ``labelmap.txt`` (else ``class_<n>`` names),
one `Mask` per object of ``SegmentationObject`` (its class: the most frequent class value under
it; ``instance_id``: its index), and one per class for class pixels no object covers (or per
class when there is no object PNG). The image is the file with the PNG's stem in the ``images``
option's folder or ``JPEGImages/`` (else the item is named after ``Annotations/<stem>.xml``'s
``<filename>``, or ``<stem>.jpg``, without media); sizes
come from the PNGs; splits from ``ImageSets/Segmentation``. Items get dataset ``default``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import numpy as np

from labelport.domain.geometry import GeometryKind
from labelport.domain.masks import bitmap_to_rle
from labelport.domain.model import DEFAULT_DATASET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError
from labelport.formats._shared.image_files import ImageFolder
from labelport.formats._shared.naming import FileNamer, file_stem, safe_file_name
from labelport.formats._shared.raster import (
    AREA_KINDS,
    PngOut,
    RasterJob,
    check_class_count,
    palette_bytes,
    raster_objects,
    read_png,
    read_split_lists,
    render_all,
    voc_color,
)
from labelport.formats._shared.xml_text import parse_xml
from labelport.formats.base import (
    Conventions,
    FormatSpec,
    OptionSpec,
    WriteContext,
    merge_by_copying,
    no_media,
    no_progress,
)
from labelport.formats.masks import labelmap_text
from labelport.formats.voc import detection as voc

CLASS_DIR = "SegmentationClass"
OBJECT_DIR = "SegmentationObject"
SPLITS_DIR = "ImageSets/Segmentation"
VOID = 255
_LIMIT = 254
_PALETTE = palette_bytes([voc_color(i) for i in range(256)])
_PROGRESS_EVERY = 100


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Write both PNGs of every image (and, with ``detection``, the VOC detection XML)."""
    schema = source.schema
    check_class_count(schema, limit=_LIMIT, format_name="voc_segmentation")
    voc.check_labelmap_names(schema)
    place_media = ctx.place_media
    if options.get("detection", False):
        voc.write(source, out_dir, {"one_based": options.get("one_based", False),
                                    "attributes": options.get("attributes", True)},
                  dataclasses.replace(ctx, progress=no_progress))
        place_media = no_media  # the detection pass placed the images under the same names
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(schema.class_names)
    (out_dir / voc.LABELMAP_FILE).write_text(
        labelmap_text(names, [voc_color(i) for i in range(1, len(names) + 1)]),
        encoding="utf-8")
    (out_dir / SPLITS_DIR).mkdir(parents=True, exist_ok=True)
    namer = FileNamer(unique_stems=True, keep_folders=True,
                      report=None if options.get("detection", False) else ctx.report)
    with ExitStack() as stack:
        split_files: dict[str, IO[str]] = {}

        def jobs() -> Iterator[tuple[None, RasterJob]]:
            done = 0
            for done, record in enumerate(source.records(), start=1):
                file_name = namer.name(record.item)
                stem = file_stem(file_name)
                place_media(record.item, out_dir / voc.IMAGES_DIR / file_name)
                split = safe_file_name(record.split or "train")
                if split not in split_files:
                    split_files[split] = stack.enter_context(
                        (out_dir / SPLITS_DIR / f"{split}.txt").open("w", encoding="utf-8",
                                                                     newline="\n"))
                split_files[split].write(f"{stem}\n")
                objects = raster_objects(record, schema, ctx=ctx,
                                         carries_attributes=bool(options.get("detection")))
                beyond = [o for o in objects if o.instance > _LIMIT]
                if beyond:
                    ctx.report.count(f"not written: object beyond {_LIMIT} in one image",
                                     len(beyond))
                    objects = [o for o in objects if o.instance <= _LIMIT]
                yield None, RasterJob(
                    height=record.item.height, width=record.item.width,
                    geometries=tuple(o.geometry for o in objects),
                    outputs=(
                        PngOut(path=out_dir / CLASS_DIR / f"{stem}.png", palette=_PALETTE,
                               values=tuple(o.class_index + 1 for o in objects)),
                        PngOut(path=out_dir / OBJECT_DIR / f"{stem}.png", palette=_PALETTE,
                               values=tuple(o.instance for o in objects)),
                    ))
                if done % _PROGRESS_EVERY == 0:
                    ctx.progress(done)
            ctx.progress(done)

        for _ in render_all(jobs(), workers=options.get("workers", 0)):
            pass


# --- reading ---------------------------------------------------------------------------------


def _annotations(classes: np.ndarray, objects: np.ndarray | None,
                 names: tuple[str, ...], origin: Path) -> list[Annotation]:
    def label(value: int) -> str:
        if not 1 <= value <= len(names):
            raise InputError(f"{origin}: class value {value} has no line in labelmap.txt "
                             f"({len(names)} classes)")
        return names[value - 1]

    annotations: list[Annotation] = []
    covered = np.zeros(classes.shape, dtype=bool)
    if objects is not None:
        for value in np.unique(objects):
            if value in (0, VOID):
                continue
            bitmap = objects == value
            under = classes[bitmap]
            under = under[(under != 0) & (under != VOID)]
            if under.size == 0:
                continue
            majority = int(np.bincount(under).argmax())
            covered |= bitmap
            annotations.append(Annotation(label=label(majority), geometry=bitmap_to_rle(bitmap),
                                          instance_id=int(value)))
    for value in np.unique(classes[~covered]):
        if value in (0, VOID):
            continue
        annotations.append(Annotation(label=label(int(value)),
                                      geometry=bitmap_to_rle((classes == value) & ~covered)))
    return annotations


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    root = Path(path)
    class_dir = root / CLASS_DIR
    if not class_dir.is_dir():
        raise InputError(f"{root}: expected a VOC segmentation folder with {CLASS_DIR}/")
    files = sorted(class_dir.rglob("*.png"))
    labelmap = root / voc.LABELMAP_FILE
    classes: list[LabelClass] = []
    if labelmap.is_file():
        classes = [dataclasses.replace(c, geometry=GeometryKind.MASK)
                   for c in voc.labelmap_classes(labelmap)]
    else:
        top = max((int(read_png(f, ("P", "L")).max()) for f in files), default=0)
        classes = [LabelClass(id=i, name=f"class_{i}", geometry=GeometryKind.MASK)
                   for i in range(1, min(top, _LIMIT) + 1)]
    schema = LabelSchema(classes=tuple(classes))
    given = options.get("images")
    folders = [ImageFolder(Path(d), recursive=True) for d in (given, root / voc.IMAGES_DIR) if d]
    splits = read_split_lists(root / SPLITS_DIR)

    def _file_name(stem: str) -> str:
        """The detection XML's ``<filename>`` when there is one, else VOC's ``<stem>.jpg``."""
        xml = root / voc.ANNOTATIONS_DIR / f"{stem}.xml"
        written = (parse_xml(xml).findtext("filename") or "").strip() if xml.is_file() else ""
        return written or f"{stem}.jpg"

    def record(file: Path) -> ItemRecord:
        image_id = file.relative_to(class_dir).with_suffix("").as_posix()  # cam1/a when nested
        class_map = read_png(file, ("P", "L"))
        object_file = root / OBJECT_DIR / f"{image_id}.png"
        object_map = read_png(object_file, ("P", "L")) if object_file.is_file() else None
        if object_map is not None and object_map.shape != class_map.shape:
            raise InputError(f"{object_file}: expected the size of {file} "
                             f"({class_map.shape[1]}x{class_map.shape[0]})")
        image = next((f for f in (d.find(image_id) for d in folders) if f), None)
        height, width = class_map.shape
        folder = image_id.rpartition("/")[0]
        path = f"{folder}/{image.name}" if image and folder else image.name if image else (
            _file_name(image_id))
        item = Item(dataset=DEFAULT_DATASET, path=path, width=width, height=height,
                    media_uri=str(image.absolute()) if image else None)
        return ItemRecord(item=item, split=splits.get(image_id),
                          annotations=tuple(_annotations(class_map, object_map,
                                                         schema.class_names, file)))

    def records() -> Iterator[ItemRecord]:
        for file in files:
            yield record(file)

    return StreamSource(project=ProjectInfo(name=root.name), schema=schema, count=len(files),
                        open_records=records)


SPEC = FormatSpec(
    name="voc_segmentation",
    title="Pascal VOC segmentation (palette PNGs)",
    extension="png",
    geometries=AREA_KINDS,
    conventions=Conventions(
        coordinates="pixels of the image's size, rasterised by pycocotools",
        index_base="class index + 1 in schema order; instance number 1..N; 0 background",
        ids="instance numbers per image in annotation order",
        notes="VOC palette (mode P), 255 void never written; higher z_order on top, then "
              "later annotation; holes stay holes; option detection adds VOC XML",
    ),
    splits=True,
    media=True,
    options=(
        OptionSpec(name="detection", type=bool, default=False,
                   help="also write VOC detection (Annotations/, ImageSets/Main/)"),
        OptionSpec(name="one_based", type=bool, default=False,
                   help="with detection: the devkit's 1-based corners"),
        OptionSpec(name="attributes", type=bool, default=True,
                   help="with detection: attributes in Datumaro's <attributes> block"),
        OptionSpec(name="workers", type=int, default=0,
                   help="threads that rasterise and encode PNGs (0: one per CPU, at most 8)"),
    ),
    writer=write,
    reader=read,
    merge_shards=merge_by_copying,
)
