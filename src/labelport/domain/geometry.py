"""Geometry values, in labelport's one coordinate convention.

Coordinates are absolute pixels as floats, origin at the top-left corner of the top-left pixel,
x to the right and y down. A box ``x, y, w, h`` covers ``[x, x + w) x [y, y + h)``, so a box on
the first pixel is ``0, 0, 1, 1`` (COCO's convention). Point lists are flat ``x0, y0, x1, y1,
...`` tuples (the shape COCO and the rasteriser want). Angles are degrees, clockwise on screen
(y points down), about the box centre. Formats convert at their edge.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

Ring = tuple[float, ...]
"""A closed ring or an open line as flat ``x0, y0, x1, y1, ...`` pixel coordinates."""


class GeometryKind(enum.StrEnum):
    BOX = "box"
    ROTATED_BOX = "rotated_box"
    POLYGON = "polygon"
    POLYLINE = "polyline"
    KEYPOINTS = "keypoints"
    MASK = "mask"
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class Box:
    """Axis-aligned box, top-left corner and size in pixels."""

    x: float
    y: float
    w: float
    h: float

    kind = GeometryKind.BOX

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.w, self.y + self.h)

    @classmethod
    def from_xyxy(cls, x0: float, y0: float, x1: float, y1: float) -> Box:
        return cls(x=x0, y=y0, w=x1 - x0, h=y1 - y0)


@dataclass(frozen=True, slots=True, kw_only=True)
class RotatedBox:
    """Box of size ``w x h`` centred on ``(cx, cy)``, turned clockwise by ``angle_deg``.

    Centre-based so the angle never changes where the box is; formats anchored at a corner
    (Label Studio) convert at their edge."""

    cx: float
    cy: float
    w: float
    h: float
    angle_deg: float

    kind = GeometryKind.ROTATED_BOX


@dataclass(frozen=True, slots=True, kw_only=True)
class PolygonPart:
    """One connected piece of a polygon: an outer ring and the holes cut out of it."""

    outer: Ring
    holes: tuple[Ring, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Polygon:
    """One object made of one or more parts (an object occluded into pieces has several)."""

    parts: tuple[PolygonPart, ...]

    kind = GeometryKind.POLYGON

    @classmethod
    def simple(cls, outer: Ring) -> Polygon:
        return cls(parts=(PolygonPart(outer=outer),))


@dataclass(frozen=True, slots=True, kw_only=True)
class Polyline:
    """An open line through the points in order."""

    points: Ring

    kind = GeometryKind.POLYLINE


class Visibility(enum.IntEnum):
    """COCO's keypoint visibility."""

    NOT_LABELED = 0
    OCCLUDED = 1
    VISIBLE = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Keypoint:
    x: float
    y: float
    v: Visibility = Visibility.VISIBLE


@dataclass(frozen=True, slots=True, kw_only=True)
class Keypoints:
    """Points in the order of the class's keypoint names; a missing point has v = 0.

    ``box`` is the object's own box when its file gave one that is not the extent of the
    labelled points (a COCO person's ``bbox`` covers the whole person, a YOLO pose row has its
    box); ``shape`` is its outline (a COCO person's ``segmentation``). Without ``box``, the
    extent of the labelled points is the object's box (`geometry_ops.bounding_box`)."""

    points: tuple[Keypoint, ...]
    box: Box | None = None
    shape: Polygon | Mask | None = None

    kind = GeometryKind.KEYPOINTS


@dataclass(frozen=True, slots=True, kw_only=True)
class Mask:
    """A binary mask as COCO's compressed RLE: column-major run lengths of the
    ``height x width`` image, first run counting zeros, encoded as pycocotools does."""

    counts: str
    height: int
    width: int

    kind = GeometryKind.MASK


@dataclass(frozen=True, slots=True)
class NoGeometry:
    """An image-level label: the class applies to the whole image."""

    kind = GeometryKind.NONE


Geometry = Box | RotatedBox | Polygon | Polyline | Keypoints | Mask | NoGeometry
