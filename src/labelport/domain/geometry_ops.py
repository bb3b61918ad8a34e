"""Pure geometry on labelport's values: bounding boxes, areas, rotated-box corners, clipping to
the image, normalisation and validity checks.

Conventions are those of `labelport.domain.geometry`: absolute float pixels, origin at the
top-left corner of the top-left pixel, y down. ``image_wh`` is ``(width, height)`` and the image
spans ``[0, width] x [0, height]``; a point on its border is inside. Rings are flat
``x0, y0, x1, y1, ...`` tuples, closed implicitly (the last point joins the first). Masks are
handed to `labelport.domain.masks`, imported only when a mask is met, so the rest of this module
needs no pycocotools.

The clipping functions return their input object itself when nothing had to change, so callers
(and `clip_to_image`) can tell a change with ``is``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import chain
from typing import assert_never

from labelport.domain.geometry import (
    Box,
    Geometry,
    Keypoint,
    Keypoints,
    Mask,
    NoGeometry,
    Polygon,
    PolygonPart,
    Polyline,
    Ring,
    RotatedBox,
    Visibility,
)

ImageWH = tuple[float, float]
Point = tuple[float, float]


def _pairs(ring: Ring) -> list[Point]:
    return list(zip(ring[0::2], ring[1::2], strict=True))


def _flat(points: Iterable[Point]) -> Ring:
    return tuple(chain.from_iterable(points))


def _image_size(image_wh: ImageWH) -> ImageWH:
    width, height = image_wh
    if not (width > 0 and height > 0):
        raise ValueError(f"image_wh must be a positive (width, height); got {image_wh!r}")
    return width, height


def _labelled_xy(keypoints: Keypoints) -> Ring:
    """Coordinates of the points that were placed (v > 0); a v = 0 point's x, y mean nothing."""
    return _flat((p.x, p.y) for p in keypoints.points if p.v > Visibility.NOT_LABELED)


def _points_bbox(ring: Ring) -> Box | None:
    if not ring:
        return None
    xs, ys = ring[0::2], ring[1::2]
    return Box.from_xyxy(min(xs), min(ys), max(xs), max(ys))


def with_own_box(keypoints: Keypoints, box: Box | None, *, tolerance_px: float = 0.0
                 ) -> Keypoints:
    """``keypoints`` carrying ``box`` as the object's own box, unless ``box`` is the extent of its
    labelled points within ``tolerance_px`` (what a format that rounds writes for the extent):
    the fallback gives that box already, so a file's box that says nothing more is not kept."""
    extent = _points_bbox(_labelled_xy(keypoints))
    if box is None or (extent is not None and all(
            abs(a - b) <= tolerance_px for a, b in zip(box.xyxy, extent.xyxy, strict=True))):
        box = None
    return Keypoints(points=keypoints.points, box=box, shape=keypoints.shape)


# --- rotated boxes -----------------------------------------------------------------------------


def rotated_box_corners(rb: RotatedBox) -> Ring:
    """The four corners, clockwise on screen, starting from the corner that is top-left before
    rotation: top-left, top-right, bottom-right, bottom-left of the unrotated box, each turned
    by ``angle_deg`` about the centre. With y pointing down, a positive angle turns clockwise
    on screen: the top edge, which points along +x at 0 degrees, points along +y (down) at 90.
    """
    theta = math.radians(rb.angle_deg)
    cos, sin = math.cos(theta), math.sin(theta)
    half_w, half_h = rb.w / 2, rb.h / 2
    offsets = ((-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h))
    return _flat((rb.cx + dx * cos - dy * sin, rb.cy + dx * sin + dy * cos) for dx, dy in offsets)


def rotated_box_from_corners(ring: Ring) -> RotatedBox:
    """The inverse of `rotated_box_corners`, for readers of corner-based formats.

    The first edge (corner 0 to corner 1) becomes the top edge: its direction gives
    ``angle_deg`` in ``(-180, 180]`` and its length ``w``; the second edge gives ``h``. Opposite
    sides are averaged, so slightly skewed corners from a file still give the nearest box. Any
    rectangle, in either winding, gives a box covering the same region."""
    if len(ring) != 8:
        raise ValueError(f"a rotated box needs exactly 4 corners (8 numbers); got {len(ring)}")
    p0, p1, p2, p3 = _pairs(ring)
    w = (math.dist(p0, p1) + math.dist(p3, p2)) / 2
    h = (math.dist(p0, p3) + math.dist(p1, p2)) / 2
    angle_deg = math.degrees(math.atan2(p1[1] - p0[1], p1[0] - p0[0]))
    cx = (p0[0] + p1[0] + p2[0] + p3[0]) / 4
    cy = (p0[1] + p1[1] + p2[1] + p3[1]) / 4
    return RotatedBox(cx=cx, cy=cy, w=w, h=h, angle_deg=angle_deg)


# --- bounding boxes and areas ------------------------------------------------------------------


def bounding_box(geometry: Geometry) -> Box | None:
    """The tight axis-aligned box of a geometry, or None when it covers nothing (no geometry,
    no placed keypoint, an empty mask). Holes never widen a polygon's box, so only outer rings
    count."""
    match geometry:
        case Box():
            return geometry
        case RotatedBox():
            return _points_bbox(rotated_box_corners(geometry))
        case Polygon():
            return _points_bbox(tuple(chain.from_iterable(p.outer for p in geometry.parts)))
        case Polyline():
            return _points_bbox(geometry.points)
        case Keypoints():
            if geometry.box is not None:
                return geometry.box
            return _points_bbox(_labelled_xy(geometry))
        case Mask():
            from labelport.domain.masks import rle_bbox

            box = rle_bbox(geometry)
            return box if box.w > 0 else None
        case NoGeometry():
            return None
        case _:
            assert_never(geometry)


def ring_area(ring: Ring) -> float:
    """Unsigned shoelace area of a closed ring (either winding)."""
    points = _pairs(ring)
    edges = zip(points, points[1:] + points[:1], strict=True)
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in edges)
    return abs(twice) / 2


def part_area(part: PolygonPart) -> float:
    """Outer ring minus holes; holes are assumed inside their outer ring and disjoint."""
    return ring_area(part.outer) - sum(ring_area(hole) for hole in part.holes)


def area(geometry: Geometry) -> float:
    """Area in square pixels: exact for boxes and polygons (holes subtracted, parts summed, as
    COCO's ``area`` of a segmentation), the pixel count for masks, 0 for lines and points."""
    match geometry:
        case Box() | RotatedBox():
            return geometry.w * geometry.h
        case Polygon():
            return sum(part_area(part) for part in geometry.parts)
        case Polyline() | Keypoints() | NoGeometry():
            return 0.0
        case Mask():
            from labelport.domain.masks import mask_area

            return float(mask_area(geometry))
        case _:
            assert_never(geometry)


# --- inside the image --------------------------------------------------------------------------


def _ring_inside(ring: Ring, *, image_wh: ImageWH) -> bool:
    width, height = image_wh
    return all(0 <= x <= width for x in ring[0::2]) and all(0 <= y <= height for y in ring[1::2])


def is_inside_image(geometry: Geometry, *, image_wh: ImageWH) -> bool:
    """Whether every coordinate lies on the image (only placed keypoints count; a mask is inside
    when it has the image's size)."""
    match geometry:
        case Box():
            width, height = image_wh
            x0, y0, x1, y1 = geometry.xyxy
            return min(x0, y0) >= 0 and x1 <= width and y1 <= height
        case RotatedBox():
            return _ring_inside(rotated_box_corners(geometry), image_wh=image_wh)
        case Polygon():
            rings = chain.from_iterable((p.outer, *p.holes) for p in geometry.parts)
            return all(_ring_inside(ring, image_wh=image_wh) for ring in rings)
        case Polyline():
            return _ring_inside(geometry.points, image_wh=image_wh)
        case Keypoints():
            return (_ring_inside(_labelled_xy(geometry), image_wh=image_wh)
                    and (geometry.box is None
                         or is_inside_image(geometry.box, image_wh=image_wh))
                    and (geometry.shape is None
                         or is_inside_image(geometry.shape, image_wh=image_wh)))
        case Mask():
            return (geometry.width, geometry.height) == tuple(image_wh)
        case NoGeometry():
            return True
        case _:
            assert_never(geometry)


# --- clipping ----------------------------------------------------------------------------------


def _clip_against(
    points: list[Point], *, axis: int, limit: float, keep_below: bool, closed: bool
) -> list[Point]:
    """One Sutherland-Hodgman pass: keep the side of the line ``coordinate[axis] = limit``
    that is inside, adding a point where the path crosses the line."""

    def inside(p: Point) -> bool:
        return p[axis] <= limit if keep_below else p[axis] >= limit

    def crossing(p: Point, q: Point) -> Point:
        t = (limit - p[axis]) / (q[axis] - p[axis])
        other = p[1 - axis] + t * (q[1 - axis] - p[1 - axis])
        return (limit, other) if axis == 0 else (other, limit)

    out: list[Point] = []
    prev = points[-1] if closed else None
    for cur in points:
        cur_inside = inside(cur)
        if prev is not None and cur_inside != inside(prev):
            out.append(crossing(prev, cur))
        if cur_inside:
            out.append(cur)
        prev = cur
    return out


def _dedupe(points: list[Point], *, closed: bool) -> list[Point]:
    """Drop consecutive repeats (and, for a ring, a last point repeating the first)."""
    out = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    if closed and len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def _clip_path(points: Ring, *, image_wh: ImageWH, closed: bool) -> list[Point]:
    """Sutherland-Hodgman against the image rectangle. Where a shape leaves the image and comes
    back, the pieces stay joined by a segment along the border (so one polygon stays one ring,
    one polyline one line)."""
    width, height = image_wh
    kept = _pairs(points)
    for axis, limit, keep_below in ((0, 0.0, False), (0, width, True), (1, 0.0, False),
                                    (1, height, True)):
        if not kept:
            break
        kept = _clip_against(kept, axis=axis, limit=limit, keep_below=keep_below, closed=closed)
    return _dedupe(kept, closed=closed)


def _clip_ring(ring: Ring, *, image_wh: ImageWH) -> Ring | None:
    """The ring cut to the image, or None when less than a ring with area is left."""
    if _ring_inside(ring, image_wh=image_wh):
        return ring
    clipped = _flat(_clip_path(ring, image_wh=image_wh, closed=True))
    if len(clipped) < 6 or ring_area(clipped) == 0:
        return None
    return clipped


def clip_box(box: Box, *, image_wh: ImageWH) -> Box | None:
    """The part of the box on the image, or None when nothing with area is left."""
    if is_inside_image(box, image_wh=image_wh):
        return box
    width, height = image_wh
    x0, y0, x1, y1 = box.xyxy
    x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return Box.from_xyxy(x0, y0, x1, y1)


def clip_polygon(polygon: Polygon, *, image_wh: ImageWH) -> Polygon | None:
    """Each ring clipped to the image (Sutherland-Hodgman). A part whose outer ring leaves less
    than 3 points or no area is dropped, and so is such a hole; None when no part is left."""
    parts: list[PolygonPart] = []
    changed = False
    for part in polygon.parts:
        outer = _clip_ring(part.outer, image_wh=image_wh)
        holes = [_clip_ring(hole, image_wh=image_wh) for hole in part.holes]
        same_holes = all(new is old for new, old in zip(holes, part.holes, strict=True))
        if outer is part.outer and same_holes:
            parts.append(part)
            continue
        changed = True
        if outer is not None:
            kept = tuple(hole for hole in holes if hole is not None)
            parts.append(PolygonPart(outer=outer, holes=kept))
    if not parts:
        return None
    if not changed:
        return polygon
    return Polygon(parts=tuple(parts))


def clip_polyline(polyline: Polyline, *, image_wh: ImageWH) -> Polyline | None:
    """The line cut to the image, or None when less than a segment is left."""
    if _ring_inside(polyline.points, image_wh=image_wh):
        return polyline
    points = _clip_path(polyline.points, image_wh=image_wh, closed=False)
    return Polyline(points=_flat(points)) if len(points) >= 2 else None


def clip_keypoints(keypoints: Keypoints, *, image_wh: ImageWH) -> Keypoints | None:
    """Placed points off the image become unlabelled (``0, 0, v=0``), keeping every point's
    index (keypoints are addressed by position). The object's own box and shape are clipped too
    (a mask must have the image's size); None when no placed point, box or shape is left."""
    if is_inside_image(keypoints, image_wh=image_wh):
        return keypoints
    box = None if keypoints.box is None else clip_box(keypoints.box, image_wh=image_wh)
    shape: Polygon | Mask | None = None
    if isinstance(keypoints.shape, Polygon):
        shape = clip_polygon(keypoints.shape, image_wh=image_wh)
    elif keypoints.shape is not None:
        shape, _ = clip_to_image(keypoints.shape, image_wh=image_wh)  # type: ignore[assignment]
    unlabelled = Keypoint(x=0.0, y=0.0, v=Visibility.NOT_LABELED)
    points = tuple(
        p if p.v == Visibility.NOT_LABELED or _ring_inside((p.x, p.y), image_wh=image_wh)
        else unlabelled
        for p in keypoints.points
    )
    if box is None and shape is None and all(p.v == Visibility.NOT_LABELED for p in points):
        return None
    return Keypoints(points=points, box=box, shape=shape)


def clip_to_image(geometry: Geometry, *, image_wh: ImageWH) -> tuple[Geometry | None, bool]:
    """The geometry cut to the image and whether that changed it; None when nothing is left.

    A rotated box cannot be cut and stay a rotated box: it is kept whole when any of it is on
    the image (`is_inside_image` tells whether it sticks out) and dropped otherwise. A mask must
    already have the image's size."""
    clipped: Geometry | None
    match geometry:
        case Box():
            clipped = clip_box(geometry, image_wh=image_wh)
        case RotatedBox():
            on_image = _clip_ring(rotated_box_corners(geometry), image_wh=image_wh)
            clipped = geometry if on_image is not None else None
        case Polygon():
            clipped = clip_polygon(geometry, image_wh=image_wh)
        case Polyline():
            clipped = clip_polyline(geometry, image_wh=image_wh)
        case Keypoints():
            clipped = clip_keypoints(geometry, image_wh=image_wh)
        case Mask():
            if not is_inside_image(geometry, image_wh=image_wh):
                raise ValueError(
                    f"mask of {geometry.width}x{geometry.height} does not match the image "
                    f"{image_wh[0]}x{image_wh[1]}"
                )
            clipped = geometry
        case NoGeometry():
            clipped = geometry
        case _:
            assert_never(geometry)
    return clipped, clipped is not geometry


# --- normalisation -----------------------------------------------------------------------------


def normalize_xy(ring: Ring, *, image_wh: ImageWH) -> Ring:
    """Pixel coordinates as fractions of the image's width and height (YOLO segments, ...)."""
    width, height = _image_size(image_wh)
    return _flat((x / width, y / height) for x, y in _pairs(ring))


def denormalize_xy(ring_norm: Ring, *, image_wh: ImageWH) -> Ring:
    """The inverse of `normalize_xy`."""
    width, height = _image_size(image_wh)
    return _flat((x * width, y * height) for x, y in _pairs(ring_norm))


def box_to_cxcywh_norm(box: Box, *, image_wh: ImageWH) -> tuple[float, float, float, float]:
    """Centre and size as fractions of the image (YOLO's box)."""
    width, height = _image_size(image_wh)
    return (
        (box.x + box.w / 2) / width,
        (box.y + box.h / 2) / height,
        box.w / width,
        box.h / height,
    )


def box_from_cxcywh_norm(
    cxcywh_norm: tuple[float, float, float, float], *, image_wh: ImageWH
) -> Box:
    """The inverse of `box_to_cxcywh_norm`."""
    width, height = _image_size(image_wh)
    cx, cy, w, h = cxcywh_norm
    return Box(x=(cx - w / 2) * width, y=(cy - h / 2) * height, w=w * width, h=h * height)


# --- validity ----------------------------------------------------------------------------------


def is_degenerate_box(box: Box) -> bool:
    """A box with no area or a non-finite coordinate (nothing a trainer can use)."""
    isfinite = math.isfinite
    return (box.w <= 0 or box.h <= 0
            or not (isfinite(box.x) and isfinite(box.y) and isfinite(box.w) and isfinite(box.h)))


def _orientation(a: Point, b: Point, c: Point) -> int:
    cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return (cross > 0) - (cross < 0)


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    """Whether ``p``, known to be collinear with ``a b``, lies within the segment."""
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _segments_touch(a: Point, b: Point, c: Point, d: Point) -> bool:
    o1, o2 = _orientation(a, b, c), _orientation(a, b, d)
    o3, o4 = _orientation(c, d, a), _orientation(c, d, b)
    if o1 != o2 and o3 != o4:
        return True
    return (
        (o1 == 0 and _on_segment(c, a, b))
        or (o2 == 0 and _on_segment(d, a, b))
        or (o3 == 0 and _on_segment(a, c, d))
        or (o4 == 0 and _on_segment(b, c, d))
    )


def _folds_back(a: Point, b: Point, c: Point) -> bool:
    """Whether consecutive edges ``a b`` and ``b c`` overlap (a spike that retraces itself)."""
    dot = (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1])
    return _orientation(a, b, c) == 0 and dot < 0


def ring_is_self_intersecting(ring: Ring) -> bool:
    """Whether any two edges of the closed ring cross or touch, other than neighbours at their
    shared corner. O(n^2) edge pairs: fine for annotation-sized rings. Repeated consecutive
    points (and a closing point equal to the first) are ignored."""
    points = _dedupe(_pairs(ring), closed=True)
    n = len(points)
    if n < 3:
        return False
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1:
                if _folds_back(*edges[i], edges[j][1]):
                    return True
            elif i == 0 and j == n - 1:
                if _folds_back(*edges[j], edges[i][1]):
                    return True
            elif _segments_touch(*edges[i], *edges[j]):
                return True
    return False


def ring_problem(ring: Ring) -> str | None:
    """Why a ring cannot be a polygon ring, or None when it can: an odd number of coordinates,
    a non-finite one, fewer than 3 distinct points, all points on one line (no area), or edges
    that cross or touch."""
    if len(ring) % 2:
        return "odd number of coordinates"
    if not all(math.isfinite(v) for v in ring):
        return "non-finite coordinate"
    points = _dedupe(_pairs(ring), closed=True)
    if len(points) < 3:
        return "fewer than 3 distinct points"
    if all(_orientation(points[0], points[1], p) == 0 for p in points[2:]):
        return "all points on one line"
    if ring_is_self_intersecting(ring):
        return "self-intersecting"
    return None


def polygon_problem(polygon: Polygon) -> str | None:
    """The first problem of a polygon's rings, naming the ring (``part 0 hole 1: ...``)."""
    if not polygon.parts:
        return "no parts"
    for i, part in enumerate(polygon.parts):
        named = [(f"part {i} outer ring", part.outer)]
        named += [(f"part {i} hole {j}", hole) for j, hole in enumerate(part.holes)]
        for name, ring in named:
            problem = ring_problem(ring)
            if problem is not None:
                return f"{name}: {problem}"
    return None


def polygon_is_valid(polygon: Polygon) -> bool:
    return polygon_problem(polygon) is None
