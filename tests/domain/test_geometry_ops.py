"""Pure geometry from tables, with pycocotools as the oracle where a rasterised area exists."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labelport.domain.geometry import (
    Box,
    Geometry,
    Keypoint,
    Keypoints,
    NoGeometry,
    Polygon,
    PolygonPart,
    Polyline,
    Ring,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import (
    area,
    bounding_box,
    box_from_cxcywh_norm,
    box_to_cxcywh_norm,
    clip_box,
    clip_keypoints,
    clip_polygon,
    clip_polyline,
    clip_to_image,
    denormalize_xy,
    is_degenerate_box,
    is_inside_image,
    normalize_xy,
    polygon_is_valid,
    polygon_problem,
    ring_area,
    ring_is_self_intersecting,
    ring_problem,
    rotated_box_corners,
    rotated_box_from_corners,
)
from labelport.domain.masks import bitmap_to_rle, mask_area, polygon_to_rle

SQUARE = (10.0, 10.0, 110.0, 10.0, 110.0, 110.0, 10.0, 110.0)
HOLE = (40.0, 40.0, 80.0, 40.0, 80.0, 80.0, 40.0, 80.0)
DONUT = Polygon(parts=(PolygonPart(outer=SQUARE, holes=(HOLE,)),))
KP = Keypoints(
    points=(
        Keypoint(x=10, y=20),
        Keypoint(x=500, y=500, v=Visibility.NOT_LABELED),
        Keypoint(x=30, y=5, v=Visibility.OCCLUDED),
    )
)


def _top_right_mask() -> np.ndarray:
    bitmap = np.zeros((40, 60), np.uint8)
    bitmap[:10, 50:] = 1
    return bitmap


def _approx_ring(actual: Ring, expected: Ring) -> None:
    assert len(actual) == len(expected)
    assert actual == pytest.approx(expected, abs=1e-6)


# --- bounding boxes and areas ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        (Box(x=1, y=2, w=3, h=4), Box(x=1, y=2, w=3, h=4)),
        (RotatedBox(cx=50, cy=50, w=20, h=10, angle_deg=0), Box(x=40, y=45, w=20, h=10)),
        (RotatedBox(cx=50, cy=50, w=20, h=10, angle_deg=90), Box(x=45, y=40, w=10, h=20)),
        (DONUT, Box(x=10, y=10, w=100, h=100)),
        (
            Polygon(
                parts=(
                    PolygonPart(outer=(0, 5, 4, 5, 4, 9)),
                    PolygonPart(outer=(20, 1, 25, 1, 25, 3)),
                )
            ),
            Box(x=0, y=1, w=25, h=8),
        ),
        (Polyline(points=(5, 5, 1, 9, 7, 2)), Box(x=1, y=2, w=6, h=7)),
        (KP, Box(x=10, y=5, w=20, h=15)),
        (Keypoints(points=(Keypoint(x=3, y=4, v=Visibility.NOT_LABELED),)), None),
        (NoGeometry(), None),
        (bitmap_to_rle(_top_right_mask()), Box(x=50, y=0, w=10, h=10)),
        (bitmap_to_rle(np.zeros((4, 4), np.uint8)), None),
    ],
)
def test_bounding_box(geometry: Geometry, expected: Box | None) -> None:
    result = bounding_box(geometry)
    if expected is None:
        assert result is None
    else:
        assert result is not None
        assert result.xyxy == pytest.approx(expected.xyxy)


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        (Box(x=1, y=2, w=3, h=4), 12),
        (RotatedBox(cx=0, cy=0, w=3, h=4, angle_deg=33), 12),
        (Polygon.simple((0, 0, 4, 0, 0, 3)), 6),
        (Polygon.simple((0, 0, 0, 3, 4, 0)), 6),  # winding does not matter
        (DONUT, 8400),
        (Polygon(parts=(DONUT.parts[0], PolygonPart(outer=(0, 0, 9, 0, 9, 9)))), 8440.5),
        (Polyline(points=(0, 0, 10, 10)), 0),
        (KP, 0),
        (NoGeometry(), 0),
        (bitmap_to_rle(_top_right_mask()), 100),
    ],
)
def test_area(geometry: Geometry, expected: float) -> None:
    assert area(geometry) == pytest.approx(expected)


def test_polygon_area_close_to_pycocotools_rasterised_area() -> None:
    polygon = Polygon(
        parts=(
            PolygonPart(
                outer=(12.3, 8.1, 140.7, 20.2, 120.4, 130.9, 30.5, 110.1),
                holes=((50.2, 50.1, 90.8, 55.3, 70.4, 90.6),),
            ),
        )
    )
    rasterised = mask_area(polygon_to_rle(polygon, height=160, width=180))
    assert rasterised == pytest.approx(area(polygon), rel=0.02)


# --- rotated boxes -----------------------------------------------------------------------------


def test_rotated_box_corners_by_hand_on_non_square_image() -> None:
    """640x480 image, box 200x100 centred at (320, 240), 30 degrees clockwise on screen.
    Offsets (dx, dy) turn to (dx cos - dy sin, dx sin + dy cos) with cos 30 = 0.8660254,
    sin 30 = 0.5; e.g. the top-left (-100, -50) goes to (-61.60254, -93.30127)."""
    rb = RotatedBox(cx=320, cy=240, w=200, h=100, angle_deg=30)
    expected = (
        258.39746, 146.69873,  # top-left
        431.60254, 246.69873,  # top-right: the top edge now runs down to the right
        381.60254, 333.30127,  # bottom-right
        208.39746, 233.30127,  # bottom-left
    )  # fmt: skip
    assert rotated_box_corners(rb) == pytest.approx(expected, abs=1e-5)
    assert is_inside_image(rb, image_wh=(640, 480))
    assert not is_inside_image(rb, image_wh=(420, 480))


def test_rotated_box_quarter_turn_moves_top_left_corner_to_top_right() -> None:
    corners = rotated_box_corners(RotatedBox(cx=0, cy=0, w=200, h=100, angle_deg=90))
    _approx_ring(corners, (50, -100, 50, 100, -50, 100, -50, -100))


@pytest.mark.parametrize("angle_deg", [0, 30, 90, 135, 179, -45, -150, 180])
def test_rotated_box_from_corners_round_trip(angle_deg: float) -> None:
    rb = RotatedBox(cx=320.5, cy=240.25, w=200, h=100, angle_deg=angle_deg)
    back = rotated_box_from_corners(rotated_box_corners(rb))
    assert (back.cx, back.cy, back.w, back.h) == pytest.approx((rb.cx, rb.cy, rb.w, rb.h))
    assert -180 < back.angle_deg <= 180
    assert math.cos(math.radians(back.angle_deg - angle_deg)) == pytest.approx(1)


def test_rotated_box_from_corners_needs_four_corners() -> None:
    with pytest.raises(ValueError, match="4 corners"):
        rotated_box_from_corners((0, 0, 1, 0, 1, 1))


# --- inside the image and clipping --------------------------------------------------------------

IMAGE = (100, 80)


@pytest.mark.parametrize(
    ("geometry", "inside"),
    [
        (Box(x=0, y=0, w=100, h=80), True),
        (Box(x=0, y=0, w=100.5, h=80), False),
        (Box(x=-0.1, y=0, w=10, h=10), False),
        (Polygon.simple((0, 0, 100, 0, 100, 80)), True),
        (Polygon.simple((0, 0, 101, 0, 100, 80)), False),
        (Polyline(points=(1, 1, 50, 81)), False),
        (KP, True),  # the unplaced point at (500, 500) does not count
        (Keypoints(points=(Keypoint(x=101, y=1),)), False),
        (bitmap_to_rle(np.zeros((80, 100), np.uint8)), True),
        (bitmap_to_rle(np.zeros((100, 80), np.uint8)), False),
        (NoGeometry(), True),
    ],
)
def test_is_inside_image(geometry: Geometry, inside: bool) -> None:
    assert is_inside_image(geometry, image_wh=IMAGE) is inside


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        (Box(x=10, y=10, w=20, h=20), Box(x=10, y=10, w=20, h=20)),
        (Box(x=-10, y=70, w=30, h=30), Box(x=0, y=70, w=20, h=10)),
        (Box(x=90, y=-5, w=50, h=200), Box(x=90, y=0, w=10, h=80)),
        (Box(x=100, y=10, w=5, h=5), None),  # touches the right border only
        (Box(x=-50, y=-50, w=20, h=20), None),
    ],
)
def test_clip_box(box: Box, expected: Box | None) -> None:
    assert clip_box(box, image_wh=IMAGE) == expected


def test_clip_polygon_square_over_the_corner() -> None:
    clipped = clip_polygon(Polygon.simple((-10, -10, 50, -10, 50, 50, -10, 50)), image_wh=IMAGE)
    assert clipped is not None
    _approx_ring(clipped.parts[0].outer, (0, 0, 50, 0, 50, 50, 0, 50))
    assert area(clipped) == 2500


def test_clip_polygon_triangle_out_of_the_right_edge() -> None:
    clipped = clip_polygon(Polygon.simple((80, 10, 120, 40, 80, 70)), image_wh=IMAGE)
    assert clipped is not None
    # the edges cross x = 100 at y = 25 and y = 55
    _approx_ring(clipped.parts[0].outer, (80, 10, 100, 25, 100, 55, 80, 70))


def test_clip_polygon_fully_outside_is_none() -> None:
    assert clip_polygon(Polygon.simple((120, 10, 150, 10, 150, 40)), image_wh=IMAGE) is None
    # a triangle touching the border from outside leaves no area
    assert clip_polygon(Polygon.simple((100, 10, 150, 10, 100, 40)), image_wh=IMAGE) is None


def test_clip_polygon_drops_outside_parts_and_holes_and_clips_the_rest() -> None:
    polygon = Polygon(
        parts=(
            PolygonPart(
                outer=(50, 10, 150, 10, 150, 70, 50, 70),
                holes=(
                    (60, 20, 70, 20, 70, 30),
                    (120, 20, 130, 20, 130, 30),
                    (90, 40, 110, 40, 110, 50, 90, 50),
                ),
            ),
            PolygonPart(outer=(200, 0, 210, 0, 210, 10)),
        )
    )
    clipped = clip_polygon(polygon, image_wh=IMAGE)
    assert clipped is not None
    (part,) = clipped.parts
    _approx_ring(part.outer, (50, 10, 100, 10, 100, 70, 50, 70))
    assert part.holes[0] == (60, 20, 70, 20, 70, 30)  # untouched hole kept as is
    _approx_ring(part.holes[1], (90, 40, 100, 40, 100, 50, 90, 50))
    assert len(part.holes) == 2
    assert area(clipped) == pytest.approx(50 * 60 - 50 - 100)


def test_clip_concave_polygon_matches_pycocotools_rasterised_clip() -> None:
    """The rasteriser cuts at the image border itself, so the clipped polygon must cover the
    same pixels as the original."""
    polygon = Polygon.simple((-20, 10, 60, -15, 40, 30, 130, 40, 70, 95, 10, 60))
    clipped = clip_polygon(polygon, image_wh=IMAGE)
    assert clipped is not None
    assert is_inside_image(clipped, image_wh=IMAGE)
    original_pixels = mask_area(polygon_to_rle(polygon, height=80, width=100))
    clipped_pixels = mask_area(polygon_to_rle(clipped, height=80, width=100))
    assert clipped_pixels == pytest.approx(original_pixels, rel=0.01)
    assert area(clipped) == pytest.approx(clipped_pixels, rel=0.02)


def test_clip_polyline() -> None:
    line = Polyline(points=(-10, 10, 50, 10, 50, 200))
    clipped = clip_polyline(line, image_wh=IMAGE)
    assert clipped is not None
    _approx_ring(clipped.points, (0, 10, 50, 10, 50, 80))
    assert clip_polyline(Polyline(points=(-10, -10, -5, 50)), image_wh=IMAGE) is None


def test_clip_keypoints_unlabels_points_off_the_image_and_keeps_order() -> None:
    keypoints = Keypoints(points=(Keypoint(x=10, y=10), Keypoint(x=150, y=10), KP.points[1]))
    clipped = clip_keypoints(keypoints, image_wh=IMAGE)
    assert clipped is not None
    assert clipped.points[0] == keypoints.points[0]
    assert clipped.points[1] == Keypoint(x=0, y=0, v=Visibility.NOT_LABELED)
    assert clipped.points[2] == KP.points[1]
    assert clip_keypoints(Keypoints(points=(Keypoint(x=-1, y=0),)), image_wh=IMAGE) is None


@pytest.mark.parametrize(
    ("geometry", "expect_none", "expect_changed"),
    [
        (Box(x=10, y=10, w=20, h=20), False, False),
        (Box(x=90, y=10, w=20, h=20), False, True),
        (Box(x=190, y=10, w=20, h=20), True, True),
        (DONUT, False, True),
        (Polygon.simple((1, 1, 5, 1, 5, 5)), False, False),
        (RotatedBox(cx=95, cy=40, w=20, h=10, angle_deg=10), False, False),
        (RotatedBox(cx=300, cy=40, w=20, h=10, angle_deg=10), True, True),
        (KP, False, False),
        (bitmap_to_rle(np.zeros((80, 100), np.uint8)), False, False),
        (NoGeometry(), False, False),
    ],
)
def test_clip_to_image(geometry: Geometry, expect_none: bool, expect_changed: bool) -> None:
    clipped, changed = clip_to_image(geometry, image_wh=IMAGE)
    assert (clipped is None) is expect_none
    assert changed is expect_changed
    if not changed:
        assert clipped is geometry


def test_clip_to_image_refuses_a_mask_of_another_size() -> None:
    with pytest.raises(ValueError, match="does not match the image"):
        clip_to_image(bitmap_to_rle(np.zeros((100, 80), np.uint8)), image_wh=IMAGE)


# --- normalisation -----------------------------------------------------------------------------


def test_normalize_xy_round_trip() -> None:
    ring = (0.0, 0.0, 640.0, 480.0, 123.5, 77.25)
    normalised = normalize_xy(ring, image_wh=(640, 480))
    assert normalised == pytest.approx((0, 0, 1, 1, 123.5 / 640, 77.25 / 480))
    assert denormalize_xy(normalised, image_wh=(640, 480)) == pytest.approx(ring)


@pytest.mark.parametrize(
    ("box", "cxcywh_norm"),
    [
        (Box(x=0, y=0, w=640, h=480), (0.5, 0.5, 1.0, 1.0)),
        (Box(x=160, y=120, w=64, h=48), (0.3, 0.3, 0.1, 0.1)),
        (Box(x=10.5, y=300.25, w=33.3, h=7.7), ((10.5 + 16.65) / 640, (300.25 + 3.85) / 480,
                                                33.3 / 640, 7.7 / 480)),
    ],
)
def test_box_cxcywh_norm_round_trip(box: Box, cxcywh_norm: tuple[float, ...]) -> None:
    assert box_to_cxcywh_norm(box, image_wh=(640, 480)) == pytest.approx(cxcywh_norm)
    back = box_from_cxcywh_norm(box_to_cxcywh_norm(box, image_wh=(640, 480)), image_wh=(640, 480))
    assert back.xyxy == pytest.approx(box.xyxy)


def test_normalisation_refuses_an_empty_image() -> None:
    with pytest.raises(ValueError, match="positive"):
        normalize_xy((1, 2), image_wh=(0, 480))


# --- validity ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ring", "problem"),
    [
        ((0, 0, 10, 0, 10, 10, 0, 10), None),
        ((0, 0, 10, 0, 10, 10, 0, 10, 0, 0), None),  # closing point repeated
        ((0, 0, 10, 0, 5, 5, 10, 10, 0, 10), None),  # concave
        ((0, 0, 10, 0, 10), "odd number of coordinates"),
        ((0, 0, 10, 0), "fewer than 3 distinct points"),
        ((0, 0, 10, 0, 10, 0, 0, 0), "fewer than 3 distinct points"),
        ((0, 0, 5, 0, 10, 0), "all points on one line"),
        ((0, 0, 10, 10, 10, 0, 0, 10), "self-intersecting"),  # bow tie
        ((0, 0, 10, 0, 10, 10, 5, 0, 0, 10), "self-intersecting"),  # vertex on an edge
        ((0, 0, 10, 0, 10, 10, 10, 20, 10, 5, 0, 10), "self-intersecting"),  # spike back
        ((0, 0, math.nan, 0, 10, 10), "non-finite coordinate"),
    ],
)
def test_ring_problem(ring: Ring, problem: str | None) -> None:
    assert ring_problem(ring) == problem
    if problem in (None, "self-intersecting"):
        assert ring_is_self_intersecting(ring) is (problem == "self-intersecting")


def test_polygon_problem_names_the_ring() -> None:
    assert polygon_is_valid(DONUT)
    bad_hole = Polygon(parts=(PolygonPart(outer=SQUARE, holes=(HOLE, (0, 0, 1, 1))),))
    assert polygon_problem(bad_hole) == "part 0 hole 1: fewer than 3 distinct points"
    assert not polygon_is_valid(bad_hole)
    assert polygon_problem(Polygon(parts=())) == "no parts"


@pytest.mark.parametrize(
    ("box", "degenerate"),
    [
        (Box(x=0, y=0, w=1, h=1), False),
        (Box(x=0, y=0, w=0, h=1), True),
        (Box(x=0, y=0, w=3, h=-1), True),
        (Box(x=math.inf, y=0, w=3, h=1), True),
    ],
)
def test_is_degenerate_box(box: Box, degenerate: bool) -> None:
    assert is_degenerate_box(box) is degenerate


def test_ring_area_is_shoelace() -> None:
    assert ring_area(SQUARE) == 10000
    assert ring_area(()) == 0
