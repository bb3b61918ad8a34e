"""CVAT for images 1.1 (XML): ``cvat``.

Layout (``images/`` only when media is copied or linked)::

    annotations.xml
    images/<split>/<file name>

The file, as CVAT writes a project export (one ``<task>`` per split, images carry their
``subset``; Datumaro reads the subsets from the ``<subset>`` tags)::

    <?xml version="1.0" encoding="utf-8"?>
    <annotations>
      <version>1.1</version>
      <meta>
        <project>
          <name>labelport sample</name>
          <labels>
            <label>
              <name>car</name>
              <color>#e6194b</color>
              <type>rectangle</type>
              <attributes>
                <attribute>
                  <name>colour</name>
                  <mutable>False</mutable>
                  <input_type>select</input_type>
                  <default_value>white</default_value>
                  <values>red&#10;blue&#10;white</values>   (one value per line)
                </attribute>
              </attributes>
            </label>
          </labels>
          <tasks>
            <task><id>0</id><name>train</name><size>9</size><mode>annotation</mode>
              <subset>train</subset></task>
          </tasks>
        </project>
      </meta>
      <image id="0" name="street_001.png" subset="train" task_id="0" width="640" height="360">
        <box label="car" source="manual" occluded="0" xtl="100.00" ytl="200.00" xbr="260.00"
             ybr="290.00" z_order="0" group_id="1">
          <attribute name="colour">red</attribute>
        </box>
      </image>
    </annotations>

Conventions:
- Coordinates are absolute pixels, origin at the top-left corner of the top-left pixel, written
  with two decimals as CVAT does (``{:.2f}``); a box is its corners ``xtl ytl xbr ybr``
  (``xbr = x + w``). A rotated box is the unrotated box around its centre plus ``rotation``:
  degrees, clockwise on screen, about the centre, in ``[0, 360)`` (labelport's `RotatedBox`
  convention, so it maps directly); a rotation that rounds to 0 writes a plain box (counted).
- Image ids are 0-based in the order images are written; every image is written, also one
  without objects. ``name`` is the image's path inside ``images/<split>/``: the item's path
  inside its dataset with its folders (``cam1/a.jpg``, as CVAT names images uploaded in
  folders), unique per split (a second dataset's same path gets its dataset in its name,
  listed in the manifest's ``report.renamed``), or with ``--paths absolute`` what
  `WriteContext.media_reference` gives.
- Labels follow the schema's order, with colour, ``type`` (rectangle, polygon, polyline,
  points, skeleton, mask, tag) and attribute definitions: select -> ``select`` (values one per
  line), bool -> ``checkbox``, int -> ``number`` with ``min, max, step 1``, float ->
  ``number`` with step ``0.01``, string -> ``text``. Bounds not given are written as the 32-bit
  integer range. ``required``, a class's parent, flip pairs and image classification
  definitions have no place in CVAT's meta and are not written.
- A polygon part is ``points="x,y;x,y;..."``. CVAT polygons have no holes: a polygon with a
  hole is written as a ``<mask>`` (counted); a multi-part polygon is written as one
  ``<polygon>`` per part sharing a ``group_id`` (counted). A ring under 3 points is not written.
- ``<mask>``: CVAT's RLE over the mask's tight bounding box ``left top width height``
  (``width`` and ``height`` in pixels): counts of alternating runs of 0 and 1, row by row (row
  major), the first run counting zeros (0 when the first pixel is set), comma separated. An
  empty mask is not written (counted).
- Keypoints of a class with keypoint names are a ``<skeleton>`` with one ``<points>`` element
  per name (sub-labels in the meta carry ``<parent>``, and the skeleton label an ``<svg>``
  with its edges); a point that is not labelled (v = 0) is ``outside="1"``, an occluded one
  (v = 1) ``occluded="1"``. Keypoints of a class without names are a ``<points>`` shape of the
  labelled points only (counted when a point's visibility is lost). A keypoints object with
  its own box (a COCO person's bbox) is a ``<box>`` of the same label written before its
  skeleton (or points), the two sharing a ``group_id``; the reader joins them back into one
  object. Its shape (outline) is not written (counted).
- ``occluded`` is the annotation's ``occluded`` attribute (1 when set, else 0); a non-bool
  value is also written as an ``<attribute>``. Other attributes are ``<attribute name>``
  children: declared ones as CVAT writes them (``true``/``false``, numbers, text), others
  encoded as the CSV format's cells (text as is, other values as JSON).
- ``z_order`` is the annotation's; ``source`` is ``manual`` (human) or ``auto`` (model);
  ``group_id`` is the instance id when it is above 0 (multi-part polygons without one get the
  next free id on their image).
- An image-level class is a ``<tag label>``, after the image's shapes.
- Not written (counted): scores, annotation tags, the crowd flag, image classifications.

Reading takes ``annotations.xml`` or a folder holding it, CVAT's task exports (``<task>``
meta, no subsets) as well as project exports, in one streaming pass per read. Items get the
dataset ``default``, ``name`` as their path and ``subset`` as their split; the image is found
in the ``images`` option's folder, ``images/<subset>/`` or ``images/``, else where an absolute
``name`` points; sizes come from ``width``/``height``, or from the image's header. The schema
is the meta's labels in order (sub-labels become keypoint names; a ``rectangle`` label with
rotated boxes becomes a rotated-box class), then labels only seen on shapes. Polygons sharing
a label and a ``group_id`` become one multi-part polygon; ``group_id`` is the instance id.
``occluded="1"`` sets the ``occluded`` attribute (``occluded="0"`` does when the label
declares it); attribute values take the type their definition gives, undeclared ones are read
as JSON where they parse. ``source="auto"`` is a model's annotation. Video tracks, ellipses and
cuboids are refused with the place they are in.
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np
import numpy.typing as npt

from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Keypoint,
    Keypoints,
    Mask,
    NoGeometry,
    Polygon,
    Polyline,
    Ring,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import with_own_box
from labelport.domain.masks import bitmap_to_rle, polygon_to_rle, rle_to_bitmap
from labelport.domain.model import (
    DEFAULT_DATASET,
    Annotation,
    Item,
    ItemRecord,
    ProjectInfo,
    Source,
)
from labelport.domain.schema import AttributeDef, AttributeType, LabelClass, LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError
from labelport.formats._shared.geometry import count_unwritten_shape, fit_to_image
from labelport.formats._shared.image_files import (
    image_size,
    is_absolute_reference,
    is_url,
    local_reference,
    readable_file,
    reference_name,
)
from labelport.formats._shared.naming import FileNamer, safe_file_name
from labelport.formats._shared.shard_merge import lines_after, read_lines, until
from labelport.formats._shared.values import decode_value, encode_value, flag_value
from labelport.formats._shared.xml_text import XmlText, iter_xml
from labelport.formats.base import Conventions, FormatSpec, WriteContext

ANNOTATIONS_FILE = "annotations.xml"
IMAGES_DIR = "images"
_SPOOL = ".cvat-images.xml"
_PROGRESS_EVERY = 200
_INT32 = (-(2**31), 2**31 - 1)
_FLOAT_STEP = "0.01"
_SHAPES = frozenset({"box", "polygon", "polyline", "points", "mask", "skeleton"})
_REFUSED = frozenset({"ellipse", "cuboid"})

Bitmap = npt.NDArray[np.uint8]


# --- pure conversions ------------------------------------------------------------------------


_ROUNDING_PX = 0.005
"""How far `coordinate_text`'s two decimals move a coordinate."""


def coordinate_text(value: float) -> str:
    """A coordinate with CVAT's two decimals (never ``-0.00``)."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def points_text(ring: Ring) -> str:
    """``x0,y0;x1,y1;...`` of a flat ring."""
    return ";".join(f"{coordinate_text(x)},{coordinate_text(y)}"
                    for x, y in zip(ring[::2], ring[1::2], strict=True))


def parse_points(text: str) -> Ring:
    """The flat ring of ``x0,y0;x1,y1;...``; `ValueError` when it is not pairs of numbers."""
    values: list[float] = []
    for pair in text.split(";"):
        x, y = pair.split(",")
        values += (float(x), float(y))
    if not all(math.isfinite(v) for v in values):
        raise ValueError("coordinates must be finite numbers")
    return tuple(values)


def rotated_box_to_cvat(box: RotatedBox) -> tuple[float, float, float, float, float]:
    """``xtl, ytl, xbr, ybr, rotation``: the unrotated box about the same centre and the angle
    in ``[0, 360)``, rounded to CVAT's two decimals."""
    rotation = round(box.angle_deg % 360.0, 2) % 360.0
    half_w, half_h = box.w / 2, box.h / 2
    return (box.cx - half_w, box.cy - half_h, box.cx + half_w, box.cy + half_h, rotation)


def cvat_box_to_geometry(xtl: float, ytl: float, xbr: float, ybr: float,
                         rotation: float) -> Box | RotatedBox:
    """A `Box`, or a `RotatedBox` about the box's centre when ``rotation`` is not 0."""
    if rotation % 360.0 == 0:
        return Box.from_xyxy(xtl, ytl, xbr, ybr)
    return RotatedBox(cx=(xtl + xbr) / 2, cy=(ytl + ybr) / 2, w=xbr - xtl, h=ybr - ytl,
                      angle_deg=rotation % 360.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class CvatRle:
    """A ``<mask>``: run lengths over the ``width x height`` region at ``left, top``, row by
    row, alternating 0 and 1 and starting with a run of zeros."""

    counts: tuple[int, ...]
    left: int
    top: int
    width: int
    height: int


def bitmap_to_cvat_rle(bitmap: npt.ArrayLike) -> CvatRle | None:
    """CVAT's RLE of the set pixels of a ``(height, width)`` array over their tight box; None
    when no pixel is set."""
    array = np.asarray(bitmap) != 0
    rows, cols = np.nonzero(array)
    if rows.size == 0:
        return None
    top, left = int(rows.min()), int(cols.min())
    bottom, right = int(rows.max()) + 1, int(cols.max()) + 1
    pixels = array[top:bottom, left:right].ravel()  # C order: row major
    changes = np.flatnonzero(pixels[1:] != pixels[:-1]) + 1
    runs = np.diff(np.concatenate(([0], changes, [pixels.size]))).tolist()
    counts = (0, *runs) if pixels[0] else tuple(runs)
    return CvatRle(counts=tuple(int(c) for c in counts), left=left, top=top,
                   width=right - left, height=bottom - top)


def cvat_rle_to_bitmap(rle: CvatRle, *, image_wh: tuple[int, int]) -> Bitmap:
    """The ``(height, width)`` uint8 0/1 image of ``rle``; `ValueError` when the counts do not
    fill the region or the region leaves the image."""
    width, height = image_wh
    if rle.width <= 0 or rle.height <= 0:
        raise ValueError(f"the mask region must have a size, got {rle.width}x{rle.height}")
    if (rle.left < 0 or rle.top < 0 or rle.left + rle.width > width
            or rle.top + rle.height > height):
        raise ValueError(f"the mask region {rle.width}x{rle.height} at ({rle.left}, {rle.top}) "
                         f"is not inside the {width}x{height} image")
    if any(c < 0 for c in rle.counts) or sum(rle.counts) != rle.width * rle.height:
        raise ValueError(f"the run lengths must be non-negative and sum to width x height = "
                         f"{rle.width * rle.height}; they sum to {sum(rle.counts)}")
    values = np.repeat(np.arange(len(rle.counts), dtype=np.uint8) % 2, rle.counts)
    canvas = np.zeros((height, width), dtype=np.uint8)
    canvas[rle.top:rle.top + rle.height, rle.left:rle.left + rle.width] = values.reshape(
        rle.height, rle.width)
    return canvas


def attribute_spec(definition: AttributeDef) -> tuple[str, str, str]:
    """``input_type, default_value, values`` of CVAT's meta for an attribute definition."""
    match definition.type:
        case AttributeType.SELECT:
            options = definition.options
            default = definition.default if definition.default is not None else (
                options[0] if options else "")
            return "select", str(default), "\n".join(options)
        case AttributeType.BOOL:
            default = "true" if definition.default else "false"
            return "checkbox", default, default
        case AttributeType.INT | AttributeType.FLOAT:
            is_int = definition.type is AttributeType.INT
            low = definition.min if definition.min is not None else _INT32[0]
            high = definition.max if definition.max is not None else _INT32[1]
            default = definition.default if definition.default is not None else (
                min(max(0, low), high))
            step = "1" if is_int else _FLOAT_STEP

            def fmt(v: float) -> str:
                return str(int(v)) if is_int else repr(float(v))

            return "number", fmt(default), f"{fmt(low)}\n{fmt(high)}\n{step}"
        case _:
            return "text", "" if definition.default is None else str(definition.default), ""


def attribute_def(name: str, input_type: str, default_text: str, values_text: str) -> AttributeDef:
    """The inverse of `attribute_spec`: a ``number`` with an integral step is an int."""
    values = tuple(v for v in values_text.split("\n") if v != "")
    match input_type:
        case "select" | "radio":
            return AttributeDef(name=name, type=AttributeType.SELECT, options=values,
                                default=default_text or None)
        case "checkbox":
            return AttributeDef(name=name, type=AttributeType.BOOL,
                                default=default_text.strip().lower() == "true")
        case "number":
            bounds = [float(v) for v in values]
            if len(bounds) != 3:
                raise ValueError(f"a number attribute's values are 'min', 'max' and 'step' on "
                                 f"three lines, got {values_text!r}")
            low, high, step = bounds
            if step.is_integer() and step >= 1:
                return AttributeDef(name=name, type=AttributeType.INT, min=int(low),
                                    max=int(high), default=int(float(default_text or 0)))
            return AttributeDef(name=name, type=AttributeType.FLOAT, min=low, max=high,
                                default=float(default_text or 0))
        case _:
            return AttributeDef(name=name, type=AttributeType.STRING, default=default_text or None)


def attribute_text(value: Any, definition: AttributeDef | None) -> str:
    """An attribute value as CVAT writes it: declared bools as ``true``/``false``, numbers and
    text as they are; values of undeclared attributes keep their type through JSON."""
    if definition is None:
        return encode_value(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return encode_value(value)


def attribute_value(text: str, definition: AttributeDef | None) -> Any:
    """The inverse of `attribute_text`."""
    if definition is None:
        return decode_value(text) if text else text
    match definition.type:
        case AttributeType.BOOL if text in ("true", "false"):
            return text == "true"
        case AttributeType.INT | AttributeType.FLOAT:
            try:
                number = float(text)
            except ValueError:
                return text
            if definition.type is AttributeType.INT and number.is_integer():
                return int(number)
            return number
    return text


# --- writing ---------------------------------------------------------------------------------


_CVAT_TYPE = {
    GeometryKind.BOX: "rectangle",
    GeometryKind.ROTATED_BOX: "rectangle",
    GeometryKind.POLYGON: "polygon",
    GeometryKind.POLYLINE: "polyline",
    GeometryKind.KEYPOINTS: "points",
    GeometryKind.MASK: "mask",
    GeometryKind.NONE: "tag",
}


def _skeleton_svg(label: LabelClass) -> str:
    """CVAT's skeleton drawing: nodes on a circle in a 100 x 100 box, edges between them."""
    count = len(label.keypoint_names)
    turns = [2 * math.pi * i / count for i in range(count)]
    nodes = [(50 + 40 * math.sin(t), 50 - 40 * math.cos(t)) for t in turns]
    parts = [
        f'<line x1="{nodes[a][0]:.2f}" y1="{nodes[a][1]:.2f}" x2="{nodes[b][0]:.2f}" '
        f'y2="{nodes[b][1]:.2f}" data-type="edge" data-node-from="{a + 1}" '
        f'data-node-to="{b + 1}" stroke="black" stroke-width="0.5"></line>'
        for a, b in label.skeleton
    ]
    parts += [
        f'<circle r="0.75" cx="{x:.2f}" cy="{y:.2f}" data-type="element node" '
        f'data-element-id="{i + 1}" data-node-id="{i + 1}" data-label-name="{name}"></circle>'
        for i, ((x, y), name) in enumerate(zip(nodes, label.keypoint_names, strict=True))
    ]
    return "".join(parts)


def _is_skeleton(label: LabelClass | None) -> bool:
    return label is not None and label.geometry is GeometryKind.KEYPOINTS and bool(
        label.keypoint_names)


def _label_xml(label: LabelClass, text: XmlText) -> list[str]:
    kind = "skeleton" if _is_skeleton(label) else _CVAT_TYPE[label.geometry]
    lines = ["        <label>", f"          <name>{text(label.name)}</name>"]
    if label.color:
        lines.append(f"          <color>{text(label.color)}</color>")
    lines.append(f"          <type>{kind}</type>")
    if label.attributes:
        lines.append("          <attributes>")
        for definition in label.attributes:
            input_type, default, values = attribute_spec(definition)
            lines += [
                "            <attribute>",
                f"              <name>{text(definition.name)}</name>",
                "              <mutable>False</mutable>",
                f"              <input_type>{input_type}</input_type>",
                f"              <default_value>{text(default)}</default_value>",
                f"              <values>{text(values)}</values>",
                "            </attribute>",
            ]
        lines.append("          </attributes>")
    else:
        lines.append("          <attributes></attributes>")
    if kind == "skeleton":
        lines.append(f"          <svg>{text(_skeleton_svg(label))}</svg>")
    lines.append("        </label>")
    if kind == "skeleton":
        for name in label.keypoint_names:
            lines += ["        <label>", f"          <name>{text(name)}</name>",
                      "          <type>points</type>", "          <attributes></attributes>",
                      f"          <parent>{text(label.name)}</parent>", "        </label>"]
    return lines


def _header(source: ExportSource, tasks: Mapping[str, int], text: XmlText) -> str:
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>",
             "  <version>1.1</version>", "  <meta>", "    <project>",
             f"      <name>{text(source.project.name)}</name>", "      <labels>"]
    for label in source.schema.classes:
        lines += _label_xml(label, text)
    lines += ["      </labels>", _TASKS_LINE.decode()]
    return "\n".join(lines) + "\n" + _tasks_xml({text(s): n for s, n in tasks.items()})


def _tasks_xml(tasks: Mapping[str, int]) -> str:
    """One ``<task>`` per split (its name as XML text) with its size, then the meta's end."""
    lines = []
    for task_id, (split, size) in enumerate(tasks.items()):
        lines += ["        <task>", f"          <id>{task_id}</id>",
                  f"          <name>{split}</name>", f"          <size>{size}</size>",
                  "          <mode>annotation</mode>",
                  f"          <subset>{split}</subset>", "        </task>"]
    lines += ["      </tasks>", "    </project>", _META_END.decode()]
    return "\n".join(lines) + "\n"


_TASKS_LINE = b"      <tasks>"
_META_END = b"  </meta>"
_TASK_NAME = re.compile(rb"          <name>(.*)</name>")
_TASK_SIZE = re.compile(rb"          <size>(\d+)</size>")
_IMAGE_HEAD = re.compile(rb'  <image id="(\d+)" (name="[^"]*" subset="[^"]*") task_id="(\d+)"')


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """``annotations.xml`` from the shards' (`MergeShards`): the first shard's meta up to its
    tasks, one task per split of every shard (in the order they first came, sizes summed),
    then each shard's images in shard order, image ids shifted by the images before and task
    ids renumbered to the merged tasks, line by line."""
    parts = [shard / ANNOTATIONS_FILE for shard in shards]
    per_shard = [_shard_tasks(part) for part in parts]
    merged: dict[bytes, int] = {}
    for tasks in per_shard:
        for name, size in tasks:
            merged[name] = merged.get(name, 0) + size
    index = {name: i for i, name in enumerate(merged)}
    with (out / ANNOTATIONS_FILE).open("wb") as f:
        head = read_lines(parts[0])
        for line in until(head, _TASKS_LINE, where=parts[0]):
            f.write(line + b"\n")
        f.write(_TASKS_LINE + b"\n")
        f.write(_tasks_xml({name.decode(): n for name, n in merged.items()}).encode())
        offset = 0
        for part, tasks in zip(parts, per_shard, strict=True):
            task_ids = [str(index[name]).encode() for name, _ in tasks]
            images = 0
            for line in until(lines_after(part, _META_END), b"</annotations>", where=part):
                found = _IMAGE_HEAD.match(line)
                if found is not None:
                    images += 1
                    line = (b'  <image id="%d" %s task_id="%s"' % (
                        int(found[1]) + offset, found[2], task_ids[int(found[3])])
                        + line[found.end():])
                f.write(line + b"\n")
            offset += images
        f.write(b"</annotations>\n")
    return [ANNOTATIONS_FILE]


def _shard_tasks(part: Path) -> list[tuple[bytes, int]]:
    """A shard's tasks: each split's name (as XML text) and size, in task id order."""
    tasks: list[tuple[bytes, int]] = []
    name = b""
    for line in until(lines_after(part, _TASKS_LINE), b"      </tasks>", where=part):
        if found := _TASK_NAME.fullmatch(line):
            name = found[1]
        elif found := _TASK_SIZE.fullmatch(line):
            tasks.append((name, int(found[1])))
    return tasks


@dataclass(slots=True)
class _Shape:
    """One XML element being written: its tag, its XML attributes in order, its children."""

    tag: str
    fields: list[tuple[str, str]]
    children: list[str] = field(default_factory=list)

    def xml(self, text: XmlText, indent: str) -> str:
        fields = " ".join(f'{k}="{text.attribute(v)}"' for k, v in self.fields)
        if not self.children:
            return f"{indent}<{self.tag} {fields}></{self.tag}>"
        inner = "".join(f"\n{indent}  {child}" for child in self.children)
        return f"{indent}<{self.tag} {fields}>{inner}\n{indent}</{self.tag}>"


def _mask_fields(rle: CvatRle) -> list[tuple[str, str]]:
    return [("rle", ", ".join(map(str, rle.counts))), ("left", str(rle.left)),
            ("top", str(rle.top)), ("width", str(rle.width)), ("height", str(rle.height))]


class _ImageWriter:
    """Turns one record into its ``<image>`` element; counts every conversion and loss."""

    def __init__(self, schema: LabelSchema, text: XmlText, ctx: WriteContext) -> None:
        self.schema = schema
        self.text = text
        self.ctx = ctx

    def _geometry_shapes(self, geometry: Geometry, label: LabelClass | None,
                         image_wh: tuple[int, int]) -> tuple[list[_Shape], bool]:
        """The shapes of one geometry (each without label and common fields yet) and whether
        they must share a group (a multi-part polygon)."""
        count = self.ctx.report.count
        match geometry:
            case Box():
                return [_Shape("box", [("xtl", coordinate_text(geometry.x)),
                                       ("ytl", coordinate_text(geometry.y)),
                                       ("xbr", coordinate_text(geometry.x + geometry.w)),
                                       ("ybr", coordinate_text(geometry.y + geometry.h))])], False
            case RotatedBox():
                xtl, ytl, xbr, ybr, rotation = rotated_box_to_cvat(geometry)
                fields = [("xtl", coordinate_text(xtl)), ("ytl", coordinate_text(ytl)),
                          ("xbr", coordinate_text(xbr)), ("ybr", coordinate_text(ybr))]
                if rotation:
                    fields.append(("rotation", f"{rotation:.2f}"))
                else:
                    count("converted: rotated_box at 0 degrees to box")
                return [_Shape("box", fields)], False
            case Polygon():
                return self._polygon_shapes(geometry, image_wh)
            case Polyline():
                if len(geometry.points) < 4:
                    count("not written: polyline under 2 points")
                    return [], False
                return [_Shape("polyline", [("points", points_text(geometry.points))])], False
            case Keypoints():
                shapes = self._keypoint_shapes(geometry, label)
                count_unwritten_shape(geometry, self.ctx)
                if geometry.box is None or not shapes:
                    return shapes, False
                box, _ = self._geometry_shapes(geometry.box, label, image_wh)
                return box + shapes, True
            case Mask():
                rle = bitmap_to_cvat_rle(rle_to_bitmap(geometry))
                if rle is None:
                    count("not written: empty mask")
                    return [], False
                return [_Shape("mask", _mask_fields(rle))], False
            case _:  # NoGeometry: an image-level class
                return [_Shape("tag", [])], False

    def _polygon_shapes(self, polygon: Polygon,
                        image_wh: tuple[int, int]) -> tuple[list[_Shape], bool]:
        count = self.ctx.report.count
        if any(part.holes for part in polygon.parts):
            count("converted: polygon with holes to mask")
            width, height = image_wh
            rle = bitmap_to_cvat_rle(rle_to_bitmap(
                polygon_to_rle(polygon, height=height, width=width)))
            if rle is None:
                count("not written: empty mask")
                return [], False
            return [_Shape("mask", _mask_fields(rle))], False
        rings = [part.outer for part in polygon.parts]
        short = sum(1 for ring in rings if len(ring) < 6)
        if short:
            count("not written: polygon ring under 3 points", short)
        shapes = [_Shape("polygon", [("points", points_text(ring))])
                  for ring in rings if len(ring) >= 6]
        if len(shapes) > 1:
            count("converted: multi-part polygon to grouped polygons")
        return shapes, len(shapes) > 1

    def _keypoint_shapes(self, keypoints: Keypoints, label: LabelClass | None) -> list[_Shape]:
        if label is not None and _is_skeleton(label) and len(label.keypoint_names) == len(
                keypoints.points):
            skeleton = _Shape("skeleton", [])
            for name, point in zip(label.keypoint_names, keypoints.points, strict=True):
                element = _Shape("points", [
                    ("label", name), ("source", "manual"),
                    ("outside", str(int(point.v is Visibility.NOT_LABELED))),
                    ("occluded", str(int(point.v is Visibility.OCCLUDED))),
                    ("points", points_text((point.x, point.y)))])
                skeleton.children.append(element.xml(self.text, ""))
            return [skeleton]
        labelled = [p for p in keypoints.points if p.v is not Visibility.NOT_LABELED]
        if any(p.v is not Visibility.VISIBLE for p in keypoints.points):
            self.ctx.report.count("converted: keypoints to points (visibility not kept)")
        if not labelled:
            self.ctx.report.count("not written: keypoints with no labelled point")
            return []
        ring = tuple(v for p in labelled for v in (p.x, p.y))
        return [_Shape("points", [("points", points_text(ring))])]

    def _common_fields(self, annotation: Annotation, shape: _Shape,
                       group_id: int | None) -> list[tuple[str, str]]:
        source = "auto" if annotation.source is Source.MODEL else "manual"
        head = [("label", annotation.label), ("source", source)]
        if shape.tag not in ("tag", "skeleton"):
            head.append(("occluded", str(flag_value(annotation.attributes.get("occluded", 0)))))
        tail = [] if shape.tag == "tag" else [("z_order", str(annotation.z_order))]
        if group_id is not None:
            tail.append(("group_id", str(group_id)))
        return head + shape.fields + tail

    def _attribute_children(self, annotation: Annotation, label: LabelClass | None) -> list[str]:
        definitions = {d.name: d for d in label.attributes} if label else {}
        children = []
        for name, value in annotation.attributes.items():
            if name == "occluded" and isinstance(value, bool):
                continue
            written = self.text(attribute_text(value, definitions.get(name)))
            children.append(f'<attribute name="{self.text.attribute(name)}">{written}</attribute>')
        return children

    def _count_losses(self, annotation: Annotation) -> None:
        count = self.ctx.report.count
        if annotation.score is not None:
            count("not written: score")
        if annotation.tags:
            count("not written: tags")
        if annotation.crowd:
            count("not written: crowd flag")

    def image_xml(self, record: ItemRecord, *, image_id: int, name: str, split: str,
                  task_id: int) -> str:
        item = record.item
        image_wh = (item.width, item.height)
        text = self.text
        used = {a.instance_id for a in record.annotations
                if a.instance_id is not None and a.instance_id > 0}
        next_group = max(used, default=0) + 1
        shapes: list[str] = []
        tags: list[str] = []
        for annotation in record.annotations:
            geometry = fit_to_image(annotation.geometry, image_wh=image_wh, ctx=self.ctx)
            if geometry is None:
                continue
            self._count_losses(annotation)
            label = self.schema.get(annotation.label)
            parts, grouped = self._geometry_shapes(geometry, label, image_wh)
            group_id = annotation.instance_id if annotation.instance_id in used else None
            if annotation.instance_id is not None and group_id is None and parts:
                self.ctx.report.count("not written: instance id under 1")
            if grouped and group_id is None:
                group_id, next_group = next_group, next_group + 1
            children = self._attribute_children(annotation, label)
            for shape in parts:
                shape.fields = self._common_fields(annotation, shape, group_id)
                shape.children = shape.children + children
                (tags if shape.tag == "tag" else shapes).append(shape.xml(text, "    "))
        for task in record.tasks:
            if task.classifications:
                self.ctx.report.count("not written: image classification",
                                      len(task.classifications))
        head = (f'  <image id="{image_id}" name="{text.attribute(name)}" '
                f'subset="{text.attribute(split)}" task_id="{task_id}" '
                f'width="{item.width}" height="{item.height}">')
        return "\n".join([head, *shapes, *tags, "  </image>"]) + "\n"


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Write ``source`` as CVAT for images 1.1. Images are spooled to a file as records arrive
    (the meta lists the splits, which are known only at the end), then merged after the meta,
    so memory stays flat."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = XmlText(ctx)
    writer = _ImageWriter(source.schema, text, ctx)
    namer = FileNamer(keep_folders=True, report=ctx.report)
    tasks: dict[str, int] = {}
    spool = out_dir / _SPOOL
    done = 0
    try:
        with spool.open("w", encoding="utf-8", newline="\n") as images:
            for done, record in enumerate(source.records(), start=1):
                split = record.split or "train"
                task_id = list(tasks).index(split) if split in tasks else len(tasks)
                tasks[split] = tasks.get(split, 0) + 1
                folder = f"{IMAGES_DIR}/{safe_file_name(split)}"
                file_name = namer.name(record.item, folder)
                target = out_dir / folder / file_name
                ctx.place_media(record.item, target)
                name = ctx.media_reference(record.item, target, file_name)
                images.write(writer.image_xml(record, image_id=done - 1, name=name, split=split,
                                              task_id=task_id))
                if done % _PROGRESS_EVERY == 0:
                    ctx.progress(done)
        with (out_dir / ANNOTATIONS_FILE).open("w", encoding="utf-8", newline="\n") as out:
            out.write(_header(source, tasks, text))
            with spool.open(encoding="utf-8") as images:
                shutil.copyfileobj(images, out)
            out.write("</annotations>\n")
    finally:
        spool.unlink(missing_ok=True)
    ctx.progress(done)


# --- reading ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Meta:
    """What the meta says: classes in order, attribute definitions by label."""

    classes: list[LabelClass] = field(default_factory=list)
    definitions: dict[str, dict[str, AttributeDef]] = field(default_factory=dict)


_EDGE = re.compile(r'data-node-from="(\d+)"\s+data-node-to="(\d+)"')
_NODE = re.compile(r'data-node-id="(\d+)"\s+data-label-name="([^"]*)"')
_GEOMETRY_OF = {"rectangle": GeometryKind.BOX, "bbox": GeometryKind.BOX,
                "polygon": GeometryKind.POLYGON, "polyline": GeometryKind.POLYLINE,
                "points": GeometryKind.KEYPOINTS, "skeleton": GeometryKind.KEYPOINTS,
                "mask": GeometryKind.MASK, "tag": GeometryKind.NONE}


def _skeleton_edges(svg: str, names: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """Edges of CVAT's skeleton drawing as 0-based indices into ``names``."""
    node_names = {int(node): name for node, name in _NODE.findall(svg)}
    index = {name: i for i, name in enumerate(names)}
    edges = []
    for a, b in _EDGE.findall(svg):
        ends = (index.get(node_names.get(int(a), "")), index.get(node_names.get(int(b), "")))
        if ends[0] is not None and ends[1] is not None:
            edges.append((ends[0], ends[1]))
    return tuple(edges)


def _parse_meta(path: Path, meta: Element) -> _Meta:
    result = _Meta()
    labels = (meta.findall("project/labels/label") or meta.findall("task/labels/label")
              or meta.findall("job/labels/label"))
    children: dict[str, list[str]] = {}
    for label in labels:
        parent = (label.findtext("parent") or "").strip()
        if parent:
            children.setdefault(parent, []).append(label.findtext("name") or "")
    for number, label in enumerate(labels, start=1):
        name = label.findtext("name")
        if not name:
            raise InputError(f"{path}: <meta> label {number}: expected a <name>")
        if (label.findtext("parent") or "").strip():
            continue
        definitions: dict[str, AttributeDef] = {}
        for attribute in label.iterfind("attributes/attribute"):
            attribute_name = attribute.findtext("name") or ""
            try:
                definitions[attribute_name] = attribute_def(
                    attribute_name, (attribute.findtext("input_type") or "text").strip(),
                    attribute.findtext("default_value") or "", attribute.findtext("values") or "")
            except ValueError as error:
                raise InputError(f"{path}: <meta> label {name!r}, attribute "
                                 f"{attribute_name!r}: {error}") from None
        kind = (label.findtext("type") or "any").strip()
        keypoint_names = tuple(children.get(name, ()))
        result.definitions[name] = definitions
        result.classes.append(LabelClass(
            id=len(result.classes) + 1, name=name,
            geometry=_GEOMETRY_OF.get(kind, GeometryKind.BOX),
            color=(label.findtext("color") or "").strip() or None,
            keypoint_names=keypoint_names,
            skeleton=_skeleton_edges(label.findtext("svg") or "", keypoint_names),
            attributes=tuple(definitions.values())))
    return result


@dataclass(slots=True)
class _Place:
    """Where a reader is in the file, for error messages."""

    path: Path
    image: str
    shape: str = ""

    def error(self, message: str) -> InputError:
        where = f"{self.image}, {self.shape}" if self.shape else self.image
        return InputError(f"{self.path}: {where}: {message}")


def _required(place: _Place, element: Element, name: str) -> str:
    value = element.get(name)
    if value is None or not value.strip():
        raise place.error(f"expected the attribute {name!r}")
    return value


def _number(place: _Place, element: Element, name: str, *, default: str | None = None) -> float:
    raw = element.get(name, default) if default is not None else _required(place, element, name)
    try:
        value = float(raw or "")
    except ValueError:
        raise place.error(f"{name!r} should be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise place.error(f"{name!r} should be a finite number, got {raw!r}")
    return value


def _integer(place: _Place, element: Element, name: str, *, default: str | None = None) -> int:
    value = _number(place, element, name, default=default)
    if not value.is_integer():
        raise place.error(f"{name!r} should be a whole number, got {element.get(name)!r}")
    return int(value)


def _points(place: _Place, element: Element) -> Ring:
    raw = _required(place, element, "points")
    try:
        return parse_points(raw)
    except ValueError:
        raise place.error(f"'points' should be 'x,y;x,y;...' with numbers, got {raw!r}") from None


def _shape_geometry(place: _Place, element: Element, image_wh: tuple[int, int],
                    keypoint_names: Sequence[str]) -> Geometry:
    match element.tag:
        case "box":
            xtl, ytl, xbr, ybr = (_number(place, element, k) for k in ("xtl", "ytl", "xbr", "ybr"))
            if xbr < xtl or ybr < ytl:
                raise place.error(f"expected xtl <= xbr and ytl <= ybr, got "
                                  f"{(xtl, ytl, xbr, ybr)}")
            return cvat_box_to_geometry(xtl, ytl, xbr, ybr,
                                        _number(place, element, "rotation", default="0"))
        case "polygon":
            ring = _points(place, element)
            if len(ring) < 6:
                raise place.error("a polygon needs at least 3 points")
            return Polygon.simple(ring)
        case "polyline":
            return Polyline(points=_points(place, element))
        case "points":
            ring = _points(place, element)
            return Keypoints(points=tuple(Keypoint(x=x, y=y)
                                          for x, y in zip(ring[::2], ring[1::2], strict=True)))
        case "mask":
            raw = _required(place, element, "rle")
            try:
                counts = tuple(int(c) for c in raw.split(","))
            except ValueError:
                raise place.error(f"'rle' should be whole numbers separated by commas, got "
                                  f"{raw[:40]!r}") from None
            rle = CvatRle(counts=counts, left=_integer(place, element, "left"),
                          top=_integer(place, element, "top"),
                          width=_integer(place, element, "width"),
                          height=_integer(place, element, "height"))
            try:
                return bitmap_to_rle(cvat_rle_to_bitmap(rle, image_wh=image_wh))
            except ValueError as error:
                raise place.error(str(error)) from None
        case _:  # skeleton
            return _skeleton(place, element, keypoint_names)


def _skeleton(place: _Place, element: Element, keypoint_names: Sequence[str]) -> Keypoints:
    by_name: dict[str, Keypoint] = {}
    for point in element.iterfind("points"):
        name = _required(place, point, "label")
        ring = _points(place, point)
        if len(ring) != 2:
            raise place.error(f"skeleton point {name!r} should have one 'x,y' point")
        visibility = (Visibility.NOT_LABELED if point.get("outside") == "1"
                      else Visibility.OCCLUDED if point.get("occluded") == "1"
                      else Visibility.VISIBLE)
        by_name[name] = Keypoint(x=ring[0], y=ring[1], v=visibility)
    names = list(keypoint_names) or list(by_name)
    unknown = sorted(set(by_name) - set(names))
    if unknown:
        raise place.error(f"skeleton points {unknown} are not sub-labels of its label in <meta>")
    return Keypoints(points=tuple(by_name.get(n, Keypoint(x=0, y=0, v=Visibility.NOT_LABELED))
                                  for n in names))


def _attributes(element: Element, definitions: Mapping[str, AttributeDef]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    occluded = element.get("occluded")
    if occluded == "1" or (occluded == "0" and "occluded" in definitions):
        attributes["occluded"] = occluded == "1"
    for child in element.iterfind("attribute"):
        name = child.get("name") or ""
        attributes[name] = attribute_value(child.text or "", definitions.get(name))
    return attributes


@dataclass(slots=True)
class _Reader:
    """Streams the records of one CVAT XML file; the first pass checks everything."""

    path: Path
    image_dirs: list[Path]
    meta: _Meta = field(default_factory=_Meta)
    seen: list[str] = field(default_factory=list)
    rotated: set[str] = field(default_factory=set)
    count: int = 0

    def _item(self, place: _Place, element: Element) -> tuple[Item, str | None]:
        name = _required(place, element, "name")
        subset = element.get("subset")
        image: Path | None = None
        for folder in self.image_dirs:
            for candidate in ((folder / subset / name) if subset else None, folder / name):
                if candidate is not None and readable_file(candidate):
                    image = image or candidate
        local = local_reference(name)
        if image is None and local is not None and local.is_file():
            image = local
        width = _integer(place, element, "width", default="0")
        height = _integer(place, element, "height", default="0")
        if width <= 0 or height <= 0:
            if image is None:
                raise place.error(f"no image size: 'width'/'height' are missing and {name!r} is "
                                  "not in the images folder")
            width, height = image_size(image)
        media = str(image.absolute()) if image else name if is_url(name) else None
        path = reference_name(name) if is_absolute_reference(name) else name
        return Item(dataset=DEFAULT_DATASET, path=path, width=width, height=height,
                    media_uri=media), subset

    def record(self, index: int, element: Element) -> ItemRecord:
        place = _Place(self.path, f"<image> {index} ({element.get('name')!r})")
        item, subset = self._item(place, element)
        annotations: list[Annotation] = []
        groups: dict[tuple[str, int], int] = {}
        boxes: dict[tuple[str, int], int] = {}
        for number, shape in enumerate(element, start=1):
            if shape.tag in _REFUSED:
                raise place.error(f"<{shape.tag}> {number}: CVAT {shape.tag}s have no labelport "
                                  "geometry; convert them to polygons in CVAT first")
            if shape.tag not in _SHAPES and shape.tag != "tag":
                continue
            place.shape = f"<{shape.tag}> {number}"
            label = _required(place, shape, "label")
            label_class = next((c for c in self.meta.classes if c.name == label), None)
            geometry: Geometry = NoGeometry() if shape.tag == "tag" else _shape_geometry(
                place, shape, (item.width, item.height),
                label_class.keypoint_names if label_class else ())
            group = _integer(place, shape, "group_id", default="0")
            if isinstance(geometry, Polygon) and group > 0 and (label, group) in groups:
                first = groups[(label, group)]
                merged = annotations[first]
                assert isinstance(merged.geometry, Polygon)  # only polygons are grouped here
                annotations[first] = replace(
                    merged, geometry=Polygon(parts=merged.geometry.parts + geometry.parts))
                continue
            if isinstance(geometry, Keypoints) and group > 0 and (label, group) in boxes:
                first = boxes.pop((label, group))  # the object's own box, written before it
                owner = annotations[first]
                assert isinstance(owner.geometry, Box)
                annotations[first] = replace(owner, geometry=with_own_box(
                    geometry, owner.geometry, tolerance_px=_ROUNDING_PX))
                continue
            if isinstance(geometry, Polygon) and group > 0:
                groups[(label, group)] = len(annotations)
            if isinstance(geometry, Box) and group > 0:
                boxes[(label, group)] = len(annotations)
            if isinstance(geometry, RotatedBox):
                self.rotated.add(label)
            if label not in self.seen:
                self.seen.append(label)
            annotations.append(Annotation(
                label=label, geometry=geometry,
                attributes=_attributes(shape, self.meta.definitions.get(label, {})),
                instance_id=group or None,
                z_order=_integer(place, shape, "z_order", default="0"),
                source=Source.MODEL if shape.get("source") == "auto" else Source.HUMAN))
        return ItemRecord(item=item, annotations=tuple(annotations), split=subset or None)

    def records(self) -> Iterator[ItemRecord]:
        index = 0
        for root, element in ended_elements(
                self.path, other_tag="track",
                other_layout="'CVAT for video'; export 'CVAT for images' instead"):
            if element.tag == "meta":
                self.meta = _parse_meta(self.path, element)
            elif element.tag == "image":
                yield self.record(index, element)
                index += 1
                root.clear()


def ended_elements(path: Path, *, other_tag: str,
                   other_layout: str) -> Iterator[tuple[Element, Element]]:
    """The elements of a CVAT XML file as each one ends, with the root (to clear what has been
    read): the root must be ``<annotations>``, and an ``<other_tag>`` means the file is the
    other CVAT layout (images or video), which is said instead of a confusing shape error."""
    root: Element | None = None
    for event, element in iter_xml(path):
        if event != "start":
            if root is not None:
                yield root, element
        elif root is None:
            if element.tag != "annotations":
                raise InputError(f"{path}: expected <annotations> as the root element, got "
                                 f"<{element.tag}>")
            root = element
        elif element.tag == other_tag:
            raise InputError(f"{path}: <{other_tag}> {element.get('id')!r}: this is "
                             f"{other_layout}")



def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read a CVAT for images XML file (or a folder holding ``annotations.xml``). The file is
    checked whole first, so a bad shape fails the import; records are then parsed again as
    they are asked for."""
    path = Path(path)
    xml_file = path / ANNOTATIONS_FILE if path.is_dir() else path
    if not xml_file.is_file():
        raise InputError(f"{path}: expected a CVAT XML file or a folder with {ANNOTATIONS_FILE}")
    images = options.get("images")
    image_dirs = [Path(images)] if images else []
    image_dirs.append(xml_file.parent / IMAGES_DIR)
    checker = _Reader(xml_file, image_dirs)
    for _ in checker.records():
        checker.count += 1
    classes = tuple(
        LabelClass(id=c.id, name=c.name, geometry=GeometryKind.ROTATED_BOX, color=c.color,
                   attributes=c.attributes)
        if c.name in checker.rotated and c.geometry is GeometryKind.BOX else c
        for c in checker.meta.classes)
    schema = LabelSchema(classes=classes).with_classes(checker.seen, GeometryKind.BOX)

    def records() -> Iterator[ItemRecord]:
        yield from _Reader(xml_file, image_dirs).records()

    return StreamSource(project=ProjectInfo(name=xml_file.parent.name), schema=schema,
                        count=checker.count, open_records=records)


SPEC = FormatSpec(
    name="cvat",
    title="CVAT for images 1.1 (XML)",
    extension="xml",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.ROTATED_BOX, GeometryKind.POLYGON,
                          GeometryKind.POLYLINE, GeometryKind.KEYPOINTS, GeometryKind.MASK,
                          GeometryKind.NONE}),
    conventions=Conventions(
        coordinates="absolute pixels with 2 decimals; boxes xtl ytl xbr ybr, rotation in "
                    "degrees clockwise about the centre",
        index_base="image ids 0-based",
        ids="group_id = instance id",
        notes="one annotations.xml; polygons with holes as <mask> (CVAT RLE, row major over "
              "the tight box, zeros first); multi-part polygons as grouped <polygon>s; named "
              "keypoints as <skeleton>",
    ),
    attributes=True,
    splits=True,
    media=True,
    writer=write,
    reader=read,
    merge_shards=merge_shards,
)
