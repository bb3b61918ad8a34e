"""Rows of the YOLO family, as pure conversions between labelport geometry and text, shared by
`yolo` (Ultralytics), `yolo_darknet` and `yolo_keras`.

Normalised rows (Ultralytics, Darknet): class index from 0 in the schema's order, then values as
fractions of the image's width (x) and height (y), written with 6 decimals:

- box (detect, Darknet): ``cls cx cy w h`` (centre and size);
- segment: ``cls x1 y1 ... xn yn`` (one closed ring, at least 3 points);
- obb: ``cls x1 y1 x2 y2 x3 y3 x4 y4``, the corners of
  `labelport.domain.geometry_ops.rotated_box_corners` (clockwise on screen, starting from the
  corner that is top-left before rotation);
- pose: ``cls cx cy w h`` then ``x y v`` per keypoint, ``0 0 0`` for a missing point.

A row whose values fall outside ``[0, 1]`` is never produced (the builders return None; for a box,
its edges are checked, not only its centre and size): Ultralytics drops a whole image for one
such value. Keras rows are absolute integer pixel corners
``x_min,y_min,x_max,y_max,cls`` (``x_max = x + w``, each rounded to the nearest pixel, halves up).

Also here, because every YOLO writer or reader needs them: one ring from a polygon with holes or
several parts (`polygon_to_single_ring`), the detection box of any geometry (`detection_box`),
the count of what a row cannot carry (`count_not_carried`), class-name files
(`read_class_names`) and one label file (`read_label_file`),
and the schema of a list of class names (`schema_from_names`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Keypoint,
    Keypoints,
    Polygon,
    Ring,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import (
    box_from_cxcywh_norm,
    box_to_cxcywh_norm,
    denormalize_xy,
    is_degenerate_box,
    normalize_xy,
    rotated_box_from_corners,
    with_own_box,
)
from labelport.domain.model import Annotation, ItemRecord
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.errors import InputError
from labelport.formats._shared.geometry import box_on_image, is_box_on_image
from labelport.formats._shared.input_files import read_lines
from labelport.formats.base import WriteContext

DECIMALS = 6
OUTSIDE_UNIT = "dropped: value outside [0, 1] (Ultralytics would ignore the image)"
_TOLERANCE = 1e-9
_ROW_TOLERANCE = 1.5e-6
"""What the 6 decimals of a normalised row may move a value, as a share of the image's side."""
"""Float noise allowed around [0, 1] before a value counts as outside (it is then clamped)."""


# --- writing normalised rows -------------------------------------------------------------------


def _unit_values(values: Sequence[float]) -> list[float] | None:
    """The values clamped to [0, 1] when they are inside up to float noise, else None."""
    if not all(-_TOLERANCE <= v <= 1 + _TOLERANCE for v in values):
        return None
    return [min(max(v, 0.0), 1.0) for v in values]


def _fmt(value: float) -> str:
    text = f"{value:.{DECIMALS}f}"
    return "0.000000" if text == "-0.000000" else text


def _row(class_index: int, values: Sequence[float]) -> str | None:
    unit = _unit_values(values)
    if unit is None:
        return None
    return " ".join([str(class_index), *map(_fmt, unit)])


def _row_on_image(class_index: int, x: float, y: float, w: float, h: float, width: float,
                  height: float) -> str:
    """The row of a box known to be on the image: each value is in [0, 1] already, so no clamp
    or range check applies; ``+ 0.0`` turns -0.0 into 0.0."""
    return (f"{class_index} {(x + w / 2) / width + 0.0:.6f} {(y + h / 2) / height + 0.0:.6f} "
            f"{w / width + 0.0:.6f} {h / height + 0.0:.6f}")


def box_to_yolo_row(box: Box, *, image_wh: tuple[float, float], class_index: int) -> str | None:
    """``cls cx cy w h`` normalised; None when an edge of the box is outside [0, 1] (its
    centre and size could still be, but the row would describe a box off the image)."""
    width, height = image_wh
    x, y, w, h = box.x, box.y, box.w, box.h
    if x >= 0.0 and y >= 0.0 and w >= 0.0 and h >= 0.0 and x + w <= width and y + h <= height:
        return _row_on_image(class_index, x, y, w, h, width, height)  # NaN fails every test
    x0, y0, x1, y1 = box.xyxy
    if _unit_values((x0 / width, y0 / height, x1 / width, y1 / height)) is None:
        return None
    return _row(class_index, box_to_cxcywh_norm(box, image_wh=image_wh))


def ring_to_yolo_row(ring: Ring, *, image_wh: tuple[float, float],
                     class_index: int) -> str | None:
    """``cls x1 y1 ... xn yn`` normalised (a segment, or the 4 corners of an obb row); None
    when a value is outside [0, 1]."""
    return _row(class_index, normalize_xy(ring, image_wh=image_wh))


def box_corners(box: Box) -> Ring:
    """An axis-aligned box's 4 corners from the top-left one, clockwise on screen (the order
    `rotated_box_corners` gives for an angle of 0)."""
    x0, y0, x1, y1 = box.xyxy
    return (x0, y0, x1, y0, x1, y1, x0, y1)


def pose_to_yolo_row(box: Box, keypoints: Sequence[Keypoint], *, n_keypoints: int,
                     image_wh: tuple[float, float], class_index: int) -> str | None:
    """``cls cx cy w h`` then ``x y v`` for each of ``n_keypoints`` points, a missing point (or
    one past the annotation's own points) written ``0 0 0``. None when a value leaves [0, 1]."""
    row = box_to_yolo_row(box, image_wh=image_wh, class_index=class_index)
    if row is None:
        return None
    width, height = image_wh
    fields = [row]
    for i in range(n_keypoints):
        point = keypoints[i] if i < len(keypoints) else None
        if point is None or point.v == Visibility.NOT_LABELED:
            fields.append(f"{_fmt(0.0)} {_fmt(0.0)} 0")
            continue
        xy = _unit_values((point.x / width, point.y / height))
        if xy is None:
            return None
        fields.append(f"{_fmt(xy[0])} {_fmt(xy[1])} {int(point.v)}")
    return " ".join(fields)


# --- one ring from a polygon -------------------------------------------------------------------


def _points(ring: Ring) -> list[tuple[float, float]]:
    return list(zip(ring[0::2], ring[1::2], strict=True))


def _nearest_pair(a: list[tuple[float, float]],
                  b: list[tuple[float, float]]) -> tuple[int, int]:
    best = (math.inf, 0, 0)
    for i, p in enumerate(a):
        for j, q in enumerate(b):
            d = (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2
            if d < best[0]:
                best = (d, i, j)
    return best[1], best[2]


def polygon_to_single_ring(polygon: Polygon) -> Ring:
    """The polygon as one closed ring: each further ring (a hole, or another part) is joined to
    the ring built so far by a zero-width bridge between their nearest points, going there and
    back, as Ultralytics' own COCO converter (``merge_multi_segment``) joins the pieces of one
    object. Filled with the even-odd rule (pycocotools, OpenCV), the bridges cover no area and
    a hole stays a hole."""
    rings = [ring for part in polygon.parts for ring in (part.outer, *part.holes)]
    merged = _points(rings[0])
    for ring in rings[1:]:
        other = _points(ring)
        i, j = _nearest_pair(merged, other)
        loop = other[j:] + other[:j] + [other[j]]
        merged = merged[: i + 1] + loop + merged[i:]
    return tuple(v for point in merged for v in point)


# --- geometry a box-only row can carry ----------------------------------------------------------


def detection_box(geometry: Geometry, *, image_wh: tuple[int, int],
                  ctx: WriteContext) -> Box | None:
    """The box a detection row carries for any geometry: `box_on_image` (the policy, the
    envelope, the policy again, so a rotated box reaching outside is clipped as its envelope).
    A box with no area is not written (counted)."""
    box = box_on_image(geometry, image_wh=image_wh, ctx=ctx)
    if box is not None and is_degenerate_box(box):
        ctx.report.count("not written: box with no area")
        return None
    return box


def class_indices(schema: LabelSchema) -> dict[str, int]:
    """Each class name's `LabelSchema.index_of`, computed once for a whole export."""
    indices = {c.name: i for i, c in enumerate(schema.classes)}
    if len(indices) < len(schema.classes):  # a repeated name: index_of's own answer
        indices = {name: schema.index_of(name) for name in indices}
    return indices


def class_index(annotation: Annotation, *, schema: LabelSchema, ctx: WriteContext,
                indices: Mapping[str, int] | None = None) -> int | None:
    """The annotation's 0-based index in the schema's order; None (counted) for a label the
    schema does not know. ``indices`` is `class_indices` of ``schema``, built once by a writer
    that asks for every annotation."""
    index = (indices if indices is not None else class_indices(schema)).get(annotation.label)
    if index is None:
        ctx.report.count("not written: label not in the schema")
    return index


def detection_boxes(record: ItemRecord, *, schema: LabelSchema, ctx: WriteContext,
                    indices: Mapping[str, int] | None = None,
                    ) -> Iterator[tuple[int, Box, Annotation]]:
    """``(class index, box, annotation)`` for each object of the record a detection row can
    carry, in the record's order (`detection_box` for each); ``indices`` as in `class_index`."""
    image_wh = (record.item.width, record.item.height)
    if indices is None:
        indices = class_indices(schema)
    for annotation in record.annotations:
        index = class_index(annotation, schema=schema, ctx=ctx, indices=indices)
        if index is None:
            continue
        box = detection_box(annotation.geometry, image_wh=image_wh, ctx=ctx)
        if box is not None:
            yield index, box, annotation


def detect_rows(record: ItemRecord, *, schema: LabelSchema, ctx: WriteContext,
                indices: Mapping[str, int] | None = None) -> list[str]:
    """The ``cls cx cy w h`` rows of one image (Ultralytics detect, Darknet); ``indices`` as in
    `class_index`.

    Most objects are a box of a known class with some area, on the image, with nothing a row
    cannot carry: for those every step below (policy, envelope, degenerate check, report) is a
    no-op, so their row is written straight away; any other object takes the steps."""
    out = []
    width, height = image_wh = (record.item.width, record.item.height)
    if indices is None:
        indices = class_indices(schema)
    for annotation in record.annotations:
        index = indices.get(annotation.label)
        box = annotation.geometry
        if (index is not None and type(box) is Box and _carries_all(annotation)
                and box.w > 0.0 and box.h > 0.0 and is_box_on_image(box, image_wh)):
            # on the image with some area, so finite too
            out.append(_row_on_image(index, box.x, box.y, box.w, box.h, width, height))
            continue
        index = class_index(annotation, schema=schema, ctx=ctx, indices=indices)
        placed = None if index is None else detection_box(box, image_wh=image_wh, ctx=ctx)
        if index is None or placed is None:
            continue
        row = box_to_yolo_row(placed, image_wh=image_wh, class_index=index)
        if row is None:
            ctx.report.count(OUTSIDE_UNIT)
            continue
        count_not_carried(ctx, annotation)
        out.append(row)
    return out


def _carries_all(annotation: Annotation) -> bool:
    """Nothing on ``annotation`` that `count_not_carried` would count."""
    return (not annotation.attributes and not annotation.tags and annotation.score is None
            and not annotation.crowd)


def count_not_carried(ctx: WriteContext, annotation: Annotation) -> None:
    """Count what a YOLO row has no place for, per kind."""
    if annotation.attributes:
        ctx.report.count("not carried: attributes")
    if annotation.tags:
        ctx.report.count("not carried: tags")
    if annotation.score is not None:
        ctx.report.count("not carried: score")
    if annotation.crowd:
        ctx.report.count("not carried: crowd flag")


# --- reading -----------------------------------------------------------------------------------


def read_class_names(path: Path) -> list[str]:
    """One class name per line (line i is class index i), stripped; blank lines at the end are
    not classes."""
    names = [line.strip() for line in read_lines(path)]
    while names and not names[-1]:
        names.pop()
    return names


def schema_from_names(names: Sequence[str], *, geometry: GeometryKind = GeometryKind.BOX,
                      keypoint_names: tuple[str, ...] = (),
                      flip_pairs: tuple[tuple[int, int], ...] = ()) -> LabelSchema:
    """The schema a YOLO file implies: its classes in index order, ids from 1, all of one
    geometry (the file does not say more)."""
    return LabelSchema(classes=tuple(
        LabelClass(id=i + 1, name=name, geometry=geometry, keypoint_names=keypoint_names,
                   flip_pairs=flip_pairs)
        for i, name in enumerate(names)))


def parse_row(line: str, *, where: str, n_classes: int) -> tuple[int, list[float]]:
    """A normalised row as its class index and values; ``where`` (``file:line``) names the
    place in the `InputError`."""
    fields = line.split()
    try:
        class_index = int(fields[0])
        values = [float(v) for v in fields[1:]]
    except ValueError:
        raise InputError(
            f"{where}: expected a class index and numbers; got {line.strip()!r}") from None
    if not 0 <= class_index < n_classes:
        raise InputError(f"{where}: class index {class_index} is outside 0..{n_classes - 1}")
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{where}: non-finite value in {line.strip()!r}")
    return class_index, values


def box_from_row(values: Sequence[float], *, image_wh: tuple[float, float], where: str) -> Box:
    if len(values) != 4:
        raise InputError(f"{where}: a box row has 5 columns (cls cx cy w h); got "
                         f"{len(values) + 1}")
    box = box_from_cxcywh_norm((values[0], values[1], values[2], values[3]), image_wh=image_wh)
    if box.w < 0 or box.h < 0:
        raise InputError(f"{where}: negative box size")
    return box


def polygon_from_row(values: Sequence[float], *, image_wh: tuple[float, float],
                     where: str) -> Polygon:
    if len(values) < 6 or len(values) % 2:
        raise InputError(f"{where}: a segment row has a class and at least 3 x y pairs; got "
                         f"{len(values)} numbers after the class")
    return Polygon.simple(denormalize_xy(tuple(values), image_wh=image_wh))


def rotated_box_from_row(values: Sequence[float], *, image_wh: tuple[float, float],
                         where: str) -> Box | RotatedBox:
    """An OBB row as a `RotatedBox`, or as a `Box` when its corners are axis-aligned starting
    from the top-left one (how `box_corners` orders a box)."""
    if len(values) != 8:
        raise InputError(f"{where}: an obb row has 9 columns (cls and 4 corners); got "
                         f"{len(values) + 1}")
    corners = denormalize_xy(tuple(values), image_wh=image_wh)
    x0, y0, x1, y1, x2, y2, x3, y3 = corners
    if y0 == y1 and x1 == x2 and y2 == y3 and x3 == x0 and x0 < x1 and y0 < y2:
        return Box.from_xyxy(x0, y0, x2, y2)
    return rotated_box_from_corners(corners)


def pose_from_row(values: Sequence[float], *, n_keypoints: int, image_wh: tuple[float, float],
                  where: str) -> tuple[Box, Keypoints]:
    expected = 4 + 3 * n_keypoints
    if len(values) != expected:
        raise InputError(f"{where}: a pose row has {expected + 1} columns (cls cx cy w h and "
                         f"x y v for {n_keypoints} keypoints); got {len(values) + 1}")
    box = box_from_row(values[:4], image_wh=image_wh, where=where)
    width, height = image_wh
    points = []
    for i in range(n_keypoints):
        x, y, v = values[4 + 3 * i: 7 + 3 * i]
        if v not in (0, 1, 2):
            raise InputError(f"{where}: keypoint {i} visibility must be 0, 1 or 2; got {v:g}")
        if v == 0:
            points.append(Keypoint(x=0.0, y=0.0, v=Visibility.NOT_LABELED))
        else:
            points.append(Keypoint(x=x * width, y=y * height, v=Visibility(int(v))))
    return box, Keypoints(points=tuple(points))


def read_label_file(path: Path, *, names: Sequence[str], obb: bool, n_keypoints: int | None,
                    image_wh: tuple[int, int]) -> list[Annotation]:
    """The objects of one label file (none when it does not exist: a background image), read
    as Ultralytics does: 5 columns are a box, more a polygon, with ``n_keypoints`` a pose row,
    and with ``obb`` 9 columns a rotated box. A pose row gives keypoints that keep the row's box
    as their own, unless it is their extent within the 6 decimals of a normalised row."""
    if not path.is_file():
        return []
    out: list[Annotation] = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        class_index, values = parse_row(line, where=where, n_classes=len(names))
        label = names[class_index]
        if n_keypoints is not None:
            box, keypoints = pose_from_row(values, n_keypoints=n_keypoints,
                                                image_wh=image_wh, where=where)
            if all(p.v == 0 for p in keypoints.points):
                out.append(Annotation(label=label, geometry=box))
            else:
                tolerance_px = _ROW_TOLERANCE * max(image_wh)
                out.append(Annotation(label=label, geometry=with_own_box(
                    keypoints, box, tolerance_px=tolerance_px)))
        elif obb and len(values) == 8:
            out.append(Annotation(label=label, geometry=rotated_box_from_row(
                values, image_wh=image_wh, where=where)))
        elif len(values) == 4:
            out.append(Annotation(label=label, geometry=box_from_row(
                values, image_wh=image_wh, where=where)))
        else:
            out.append(Annotation(label=label, geometry=polygon_from_row(
                values, image_wh=image_wh, where=where)))
    return out


# --- keras rows (absolute pixel corners) -------------------------------------------------------


def _pixel(value: float) -> int:
    return math.floor(value + 0.5)


def box_to_keras_field(box: Box, *, class_index: int) -> str:
    """``x_min,y_min,x_max,y_max,cls`` in whole pixels, ``x_max = x + w``, halves rounded up."""
    x0, y0, x1, y1 = box.xyxy
    return ",".join(str(v) for v in (_pixel(x0), _pixel(y0), _pixel(x1), _pixel(y1),
                                      class_index))


def box_from_keras_field(field: str, *, n_classes: int, where: str) -> tuple[int, Box]:
    parts = field.split(",")
    try:
        x0, y0, x1, y1, class_index = (int(p) for p in parts)
    except ValueError:
        raise InputError(f"{where}: expected x_min,y_min,x_max,y_max,class as 5 integers; got "
                         f"{field!r}") from None
    if not 0 <= class_index < n_classes:
        raise InputError(f"{where}: class index {class_index} is outside 0..{n_classes - 1}")
    if x1 < x0 or y1 < y0:
        raise InputError(f"{where}: x_max/y_max below x_min/y_min in {field!r}")
    return class_index, Box.from_xyxy(float(x0), float(y0), float(x1), float(y1))
