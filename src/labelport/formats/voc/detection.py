"""Pascal VOC detection XML: one file per image, also for an image without objects.

Layout::

    labelmap.txt                    # label:color_rgb:parts:actions, classes in schema order
    Annotations/<stem>.xml          # one per image
    ImageSets/Main/<split>.txt      # the stems of each split, one per line
    JPEGImages/<file name>          # with media copied or linked; images keep their own format
    Annotations/cam1/<stem>.xml     # an item's path inside its dataset keeps its folders: the
    JPEGImages/cam1/<file name>     # image id is cam1/<stem> (in the split lists too), and
                                    # <filename> is cam1/<file name>, below <folder>

One annotation file::

    <annotation>
      <folder>JPEGImages</folder>
      <filename>street_001.png</filename>
      <source><database>labelport sample</database><annotation>labelport</annotation></source>
      <size><width>640</width><height>360</height><depth>3</depth></size>
      <segmented>0</segmented>
      <object>
        <name>car</name>
        <pose>Unspecified</pose>
        <truncated>0</truncated>
        <difficult>0</difficult>
        <occluded>0</occluded>
        <bndbox><xmin>100</xmin><ymin>200</ymin><xmax>260</xmax><ymax>290</ymax></bndbox>
        <attributes><attribute><name>colour</name><value>red</value></attribute></attributes>
      </object>
    </annotation>

Conventions:
- Corners are integers, origin at the top-left corner of the image. By default they follow the
  seed's convention, ``xmin = x``, ``xmax = x + w`` (what CVAT, Datumaro, Label Studio and most
  tools write); option ``one_based`` writes the devkit's 1-based pixel indices, ``xmin = x + 1``,
  ``xmax = x + w`` (the last covered pixel). Each corner is rounded to the nearest integer, halves
  up (``floor(v + 0.5)``), in 0-based coordinates before the offset is added. A box that would
  round to zero width or height is widened to the one pixel holding its centre (counted).
- ``<size>``: the item's width and height; ``depth`` is its channel count, 3 when unknown.
- ``pose``, ``truncated``, ``difficult`` come from the attributes of those names (pose
  ``Unspecified``, difficult 0 otherwise). ``truncated`` is 1 when the ``truncated`` or
  ``truncation`` attribute is above 0, or, when neither is given, when the box reaches outside
  the image; ``occluded`` is written when the attribute is present. Other attributes go into
  Datumaro's ``<attributes>`` block (option ``attributes``), values encoded as the CSV
  format's cells: text as is, other values as JSON (``true``, ``2``, ``0.25``), and text that
  would read as JSON (``"2"``) as a JSON string, so every value reads back with its type.
- ``<path>`` (LabelImg's) is written only with ``--paths absolute``: the image's absolute path
  in the published export, or without media where the source is
  (`WriteContext.media_reference`); ``<filename>`` stays the name below ``JPEGImages/``.
- ``labelmap.txt`` is Datumaro's and CVAT's (``name:r,g,b::``), no ``background`` line; a class
  name with ``:`` or a line break cannot be written there and is refused.
- Only boxes are carried. Rotated boxes, polygons, polylines, masks and keypoints are written as
  their axis-aligned envelope (counted); image-level labels, image classifications and scores are
  not written (counted). Tags, instance ids and z-order are not carried.

Reading accepts this layout or a folder of XML files. The image is ``<filename>`` in the
``images`` option's folder or ``JPEGImages/``, else the file ``<path>`` names (a ``<path>`` URL
becomes the media URI as it is); sizes come from ``<size>``, or from the image's header when
``<size>`` is missing or zero. A ``background`` line with colour ``0,0,0``
in ``labelmap.txt`` (CVAT writes one) is not a class. Splits come from
``ImageSets/Main/<split>.txt`` (image ids, with their folders below ``Annotations/``); items get
the dataset ``default`` and ``<filename>`` as their path (``cam1/a.jpg`` when nested).
The flags are read as bools, ``pose`` when it is not ``Unspecified``, ``<attributes>`` values as
JSON where they parse, else as text.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element

from labelport.domain.geometry import Box, GeometryKind
from labelport.domain.model import DEFAULT_DATASET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.geometry import (
    box_on_image,
    is_box_on_image,
    outside_fraction,
    truncation,
)
from labelport.formats._shared.image_files import (
    image_size,
    is_url,
    local_reference,
    readable_file,
)
from labelport.formats._shared.input_files import read_lines
from labelport.formats._shared.naming import FileNamer, file_stem, safe_file_name
from labelport.formats._shared.values import decode_value, encode_value, flag_value
from labelport.formats._shared.xml_text import XmlText, parse_xml
from labelport.formats.base import (
    Conventions,
    FormatSpec,
    OptionSpec,
    WriteContext,
    merge_by_copying,
    no_media,
    relative_reference,
)

ANNOTATIONS_DIR = "Annotations"
IMAGES_DIR = "JPEGImages"
SPLITS_DIR = "ImageSets/Main"
LABELMAP_FILE = "labelmap.txt"
_LABELMAP_HEADER = "# label:color_rgb:parts:actions\n"
_BUILTIN = frozenset({"pose", "truncated", "difficult", "occluded"})
_PROGRESS_EVERY = 200

XyxyInt = tuple[int, int, int, int]


# --- pure conversions ------------------------------------------------------------------------


def _pixel_span(lo: float, hi: float) -> tuple[int, int, bool]:
    """Rounded ends of ``[lo, hi)``; when they meet, the one pixel holding the middle."""
    start, end = math.floor(lo + 0.5), math.floor(hi + 0.5)
    if end > start:
        return start, end, False
    middle = math.floor((lo + hi) / 2)
    return middle, middle + 1, True


def box_to_voc_xyxy(box: Box, *, one_based: bool) -> tuple[XyxyInt, bool]:
    """VOC's integer corners of ``box`` and whether it had to be widened to a whole pixel.

    0-based (default): ``xmin = x``, ``xmax = x + w``; 1-based: ``xmin = x + 1``, ``xmax = x + w``.
    """
    x0, x1 = math.floor(box.x + 0.5), math.floor(box.x + box.w + 0.5)
    if x1 > x0:  # the common case, `_pixel_span` without a call (same floors, same order)
        y0, y1 = math.floor(box.y + 0.5), math.floor(box.y + box.h + 0.5)
        if y1 > y0:
            offset = 1 if one_based else 0
            return (x0 + offset, y0 + offset, x1, y1), False
    x0, x1, widened_x = _pixel_span(box.x, box.x + box.w)
    y0, y1, widened_y = _pixel_span(box.y, box.y + box.h)
    offset = 1 if one_based else 0
    return (x0 + offset, y0 + offset, x1, y1), widened_x or widened_y


def voc_xyxy_to_box(xyxy: tuple[float, float, float, float], *, one_based: bool) -> Box:
    """The inverse of `box_to_voc_xyxy` (corners may be floats, as Datumaro writes them)."""
    offset = 1 if one_based else 0
    xmin, ymin, xmax, ymax = xyxy
    return Box.from_xyxy(xmin - offset, ymin - offset, xmax, ymax)


def rgb_of(color: str | None) -> str:
    """``#e6194b`` as labelmap's ``230,25,75``; empty when the class has no colour."""
    if not color or not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
        return ""
    return ",".join(str(int(color[i:i + 2], 16)) for i in (1, 3, 5))


# --- writing ---------------------------------------------------------------------------------


def check_labelmap_names(schema: LabelSchema) -> None:
    for cls in schema.classes:
        if ":" in cls.name or "\n" in cls.name or "\r" in cls.name or cls.name.startswith("#"):
            raise UnsupportedError(
                f"VOC cannot write class {cls.name!r}: labelmap.txt separates fields with ':' and "
                "lines with line breaks, and '#' starts a comment; rename the class")


def _labelmap(schema: LabelSchema) -> str:
    return _LABELMAP_HEADER + "".join(f"{c.name}:{rgb_of(c.color)}::\n" for c in schema.classes)


def _object_xml(annotation: Annotation, box: Box, *, image_wh: tuple[int, int], on_image: bool,
                options: Mapping[str, Any], text: XmlText, ctx: WriteContext) -> str:
    """One ``<object>``; ``on_image`` when the annotation is a box on the image (nothing of it
    is cut off)."""
    attributes = annotation.attributes
    (xmin, ymin, xmax, ymax), widened = box_to_voc_xyxy(box, one_based=options["one_based"])
    if widened:
        ctx.report.count("converted: box under one pixel widened to one pixel")
    if not attributes:  # the common case: every flag at its default, no attribute block
        truncated = 0 if on_image else int(
            outside_fraction(annotation.geometry, image_wh=image_wh) > 0)
        return (f"  <object>\n"
                f"    <name>{text.name(annotation.label)}</name>\n"
                f"    <pose>Unspecified</pose>\n"
                f"    <truncated>{truncated}</truncated>\n"
                f"    <difficult>0</difficult>\n"
                f"    <bndbox>\n"
                f"      <xmin>{xmin}</xmin>\n"
                f"      <ymin>{ymin}</ymin>\n"
                f"      <xmax>{xmax}</xmax>\n"
                f"      <ymax>{ymax}</ymax>\n"
                f"    </bndbox>\n"
                f"  </object>")
    truncated = int(truncation(annotation.geometry, attributes, image_wh=image_wh) > 0)
    pose = text(str(attributes.get("pose", "Unspecified")))
    occluded = (f"    <occluded>{flag_value(attributes['occluded'])}</occluded>\n"
                if "occluded" in attributes else "")
    lines = [
        f"  <object>\n"
        f"    <name>{text.name(annotation.label)}</name>\n"
        f"    <pose>{pose}</pose>\n"
        f"    <truncated>{truncated}</truncated>\n"
        f"    <difficult>{flag_value(attributes.get('difficult', 0))}</difficult>\n"
        f"{occluded}"
        f"    <bndbox>\n"
        f"      <xmin>{xmin}</xmin>\n"
        f"      <ymin>{ymin}</ymin>\n"
        f"      <xmax>{xmax}</xmax>\n"
        f"      <ymax>{ymax}</ymax>\n"
        f"    </bndbox>"
    ]
    others = {k: v for k, v in attributes.items() if k not in _BUILTIN}
    if others and options["attributes"]:
        lines.append("    <attributes>")
        lines += (f"      <attribute><name>{text(k)}</name>"
                  f"<value>{text(encode_value(v))}</value></attribute>"
                  for k, v in others.items())
        lines.append("    </attributes>")
    elif others:
        ctx.report.count("dropped: attributes")
    lines.append("  </object>")
    return "\n".join(lines)


def _annotation_xml(record: ItemRecord, file_name: str, *, path: str | None,
                    project: ProjectInfo, options: Mapping[str, Any], text: XmlText,
                    ctx: WriteContext) -> str:
    item = record.item
    image_wh = (item.width, item.height)
    parts = [
        "<annotation>",
        f"  <folder>{IMAGES_DIR}</folder>",
        f"  <filename>{text(file_name)}</filename>",
        *([f"  <path>{text(path)}</path>"] if path is not None else []),
        f"  <source><database>{text(project.name)}</database>"
        "<annotation>labelport</annotation></source>",
        f"  <size><width>{item.width}</width><height>{item.height}</height>"
        f"<depth>{item.channels or 3}</depth></size>",
        "  <segmented>0</segmented>",
    ]
    for annotation in record.annotations:
        if annotation.score is not None:
            ctx.report.count("not written: score")
        geometry = annotation.geometry
        box: Box | None
        if isinstance(geometry, Box) and is_box_on_image(geometry, image_wh):
            box, on_image = geometry, True
        else:
            box, on_image = box_on_image(geometry, image_wh=image_wh, ctx=ctx), False
        if box is not None:
            parts.append(_object_xml(annotation, box, image_wh=image_wh, on_image=on_image,
                                     options=options, text=text, ctx=ctx))
    for task in record.tasks:
        if task.classifications:
            ctx.report.count("not written: image classification", len(task.classifications))
    parts.append("</annotation>\n")
    return "\n".join(parts)


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Write ``source`` as Pascal VOC under ``out_dir``, one record at a time."""
    options = {"one_based": False, "attributes": True} | dict(options)
    check_labelmap_names(source.schema)
    annotations_dir = out_dir / ANNOTATIONS_DIR
    splits_dir = out_dir / SPLITS_DIR
    annotations_dir.mkdir(parents=True, exist_ok=True)
    splits_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / LABELMAP_FILE).write_text(_labelmap(source.schema), encoding="utf-8",
                                         newline="\n")
    namer = FileNamer(unique_stems=True, keep_folders=True, report=ctx.report)
    text = XmlText(ctx)
    annotations_folder = os.fspath(annotations_dir)
    plain_paths = ctx.place_media is no_media and ctx.media_reference is relative_reference
    done = 0
    with ExitStack() as stack:
        split_files: dict[str, IO[str]] = {}
        for done, record in enumerate(source.records(), start=1):
            file_name = namer.name(record.item)
            stem = file_stem(file_name)
            relative = f"{IMAGES_DIR}/{file_name}"
            reference = relative
            if not plain_paths:  # the target path only matters to media and absolute paths
                target = out_dir / IMAGES_DIR / file_name
                ctx.place_media(record.item, target)
                reference = ctx.media_reference(record.item, target, relative)
            xml = _annotation_xml(record, file_name,
                                  path=None if reference == relative else reference,
                                  project=source.project, options=options, text=text, ctx=ctx)
            ctx.files.write_text(os.path.join(annotations_folder, f"{stem}.xml"), xml)
            split = safe_file_name(record.split or "train")
            if split not in split_files:
                split_files[split] = stack.enter_context(
                    (splits_dir / f"{split}.txt").open("w", encoding="utf-8", newline="\n"))
            split_files[split].write(f"{stem}\n")
            if done % _PROGRESS_EVERY == 0:
                ctx.progress(done)
    ctx.progress(done)


# --- reading ---------------------------------------------------------------------------------


def _readflag_value(raw: str) -> bool:
    """A flag as tools write it: ``0``/``1``, ``0.0``/``1.0`` or ``false``/``true``."""
    try:
        return float(raw) != 0
    except ValueError:
        return raw.strip().lower() in {"true", "yes"}


def _number(path: Path, parent: Element, tag: str, *, where: str) -> float:
    raw = parent.findtext(tag)
    if raw is None or not raw.strip():
        raise InputError(f"{path}: {where}: expected <{tag}> with a number")
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{path}: {where}: <{tag}> should be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise InputError(f"{path}: {where}: <{tag}> should be a finite number, got {raw!r}")
    return value


def _object_attributes(element: Element) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    pose = (element.findtext("pose") or "").strip()
    if pose and pose != "Unspecified":
        attributes["pose"] = pose
    for flag in ("truncated", "difficult", "occluded"):
        raw = element.findtext(flag)
        if raw is not None and raw.strip():
            attributes[flag] = _readflag_value(raw)
    for attribute in element.iterfind("attributes/attribute"):
        name = attribute.findtext("name")
        if name:
            attributes[name] = decode_value(attribute.findtext("value") or "")
    return attributes


def _object(path: Path, index: int, element: Element, *, one_based: bool) -> Annotation:
    where = f"object {index}"
    label = (element.findtext("name") or "").strip()
    if not label:
        raise InputError(f"{path}: {where}: expected a class in <name>")
    bndbox = element.find("bndbox")
    if bndbox is None:
        raise InputError(f"{path}: {where} ({label!r}): expected <bndbox>")
    xmin, ymin, xmax, ymax = (_number(path, bndbox, tag, where=where)
                              for tag in ("xmin", "ymin", "xmax", "ymax"))
    xyxy = (xmin, ymin, xmax, ymax)
    box = voc_xyxy_to_box(xyxy, one_based=one_based)
    if box.w < 0 or box.h < 0:
        raise InputError(f"{path}: {where} ({label!r}): expected xmin <= xmax and ymin <= ymax, "
                         f"got {xyxy}")
    return Annotation(label=label, geometry=box, attributes=_object_attributes(element))


class _Layout:
    """Where an export's files are: annotations, split lists, label map and images."""

    def __init__(self, path: Path, images: Path | None) -> None:
        if not path.is_dir():
            raise InputError(f"{path}: expected a VOC folder (with {ANNOTATIONS_DIR}/) or a folder "
                             "of XML files")
        self.root = path
        nested = path / ANNOTATIONS_DIR
        self.annotations = nested if nested.is_dir() else path
        self.files = sorted(nested.rglob("*.xml") if nested.is_dir() else path.glob("*.xml"))
        self.image_dirs = [d for d in (images, path / IMAGES_DIR) if d is not None]
        self.splits = self._splits()

    def _splits(self) -> dict[str, str]:
        """stem -> split, from the split lists. Per-class lists (``car_train.txt``: a stem and
        -1/0/1 on every line) are skipped, and the devkit's ``trainval.txt`` only names the
        stems no other list has."""
        splits: dict[str, str] = {}
        folder = self.root / SPLITS_DIR
        lists = sorted(folder.glob("*.txt")) if folder.is_dir() else []
        for lst in sorted(lists, key=lambda p: (p.stem == "trainval", p.name)):
            lines = [line.strip() for line in read_lines(lst)
                     if line.strip()]
            if lines and all(line.rsplit(maxsplit=1)[-1] in ("-1", "0", "1") and " " in line
                             for line in lines):
                continue
            for line in lines:
                splits.setdefault(line, lst.stem)
        return splits

    def image(self, file_name: str) -> Path | None:
        for folder in self.image_dirs:
            candidate = folder / file_name
            if readable_file(candidate):
                return candidate
        return None


def labelmap_classes(path: Path) -> list[LabelClass]:
    classes: list[LabelClass] = []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.rsplit(":", 3)
        if len(fields) != 4:
            raise InputError(f"{path}: line {number}: expected 'name:r,g,b:parts:actions', "
                             f"got {line!r}")
        name, rgb = fields[0], fields[1]
        color = None
        if rgb:
            try:
                r, g, b = (int(c) for c in rgb.split(","))
            except ValueError:
                raise InputError(f"{path}: line {number}: colour should be 'r,g,b', "
                                 f"got {rgb!r}") from None
            color = f"#{r:02x}{g:02x}{b:02x}"
        if name != "background" or color != "#000000":
            classes.append(LabelClass(id=len(classes) + 1, name=name, color=color))
    return classes


def _file_at(written_path: str) -> Path | None:
    """The image ``<path>`` names, when it is an absolute path (or file URL) to a file here."""
    local = local_reference(written_path)
    return local if local is not None and readable_file(local) else None


def _record(path: Path, layout: _Layout, *, one_based: bool) -> ItemRecord:
    root = parse_xml(path)
    if root.tag != "annotation":
        raise InputError(f"{path}: expected <annotation> as the root element, got <{root.tag}>")
    file_name = (root.findtext("filename") or "").strip()
    if not file_name:
        raise InputError(f"{path}: expected the image's file name in <filename>")
    written_path = (root.findtext("path") or "").strip()
    image = layout.image(file_name) or _file_at(written_path)
    size = root.find("size")
    width = height = 0
    depth: int | None = None
    if size is not None:
        width = int(_number(path, size, "width", where="<size>"))
        height = int(_number(path, size, "height", where="<size>"))
        raw_depth = (size.findtext("depth") or "").strip()
        if raw_depth.isdigit() and len(raw_depth) > 4:
            raise InputError(f"{path}: <size><depth>: expected a number of channels, got "
                             f"{len(raw_depth)} digits")
        depth = int(raw_depth) if raw_depth.isdigit() else None
    if width <= 0 or height <= 0:
        if image is None:
            raise InputError(f"{path}: no image size: <size> is missing or zero and "
                             f"{file_name!r} is not in the images folder")
        width, height = image_size(image)
    annotations = tuple(_object(path, index, element, one_based=one_based)
                        for index, element in enumerate(root.iterfind("object"), start=1))
    item = Item(dataset=DEFAULT_DATASET, path=file_name, width=width, height=height,
                media_uri=(str(image.absolute()) if image
                           else written_path if is_url(written_path) else None),
                channels=depth)
    image_id = path.relative_to(layout.annotations).with_suffix("").as_posix()
    return ItemRecord(item=item, annotations=annotations, split=layout.splits.get(image_id))


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read a VOC export (or a folder of VOC XML files). Every file is checked first, so a bad
    file fails the whole import; records are then parsed again as they are asked for."""
    images = options.get("images")
    one_based = bool(options.get("one_based", False))
    layout = _Layout(Path(path), Path(images) if images else None)
    labelmap = layout.root / LABELMAP_FILE
    schema = LabelSchema(classes=tuple(labelmap_classes(labelmap)) if labelmap.is_file() else ())
    seen: list[str] = []
    for file in layout.files:
        record = _record(file, layout, one_based=one_based)
        seen += (a.label for a in record.annotations if a.label not in seen)
    schema = schema.with_classes(seen, GeometryKind.BOX)

    def records() -> Iterator[ItemRecord]:
        for file in layout.files:
            yield _record(file, layout, one_based=one_based)

    return StreamSource(project=ProjectInfo(name=layout.root.name), schema=schema,
                        count=len(layout.files), open_records=records)


SPEC = FormatSpec(
    name="voc",
    title="Pascal VOC (XML)",
    extension="xml",
    geometries=frozenset({GeometryKind.BOX}),
    conventions=Conventions(
        coordinates="absolute pixels, integer corners xmin ymin xmax ymax, rounded half up",
        index_base="0-based: xmin = x, xmax = x + w (option one_based: xmin = x + 1)",
        notes="one XML per image, also without objects; other geometries as their envelope; "
              "truncated / difficult / occluded / pose from attributes",
    ),
    attributes=True,
    splits=True,
    media=True,
    options=(
        OptionSpec(name="one_based", type=bool, default=False,
                   help="write the devkit's 1-based pixel indices (xmin = x + 1, xmax = x + w)"),
        OptionSpec(name="attributes", type=bool, default=True,
                   help="write other attributes in Datumaro's <attributes> block"),
    ),
    writer=write,
    reader=read,
    merge_shards=merge_by_copying,
)
