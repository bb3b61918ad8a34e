"""RLE helpers checked against pycocotools, COCO's own encoder, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from labelport.domain.geometry import Box, Mask, Polygon, PolygonPart
from labelport.domain.geometry_ops import area
from labelport.domain.masks import (
    bitmap_to_rle,
    box_to_rle,
    mask_area,
    polygon_to_rle,
    rle_bbox,
    rle_from_uncompressed,
    rle_to_bitmap,
    rle_to_uncompressed,
)

DONUT = Polygon(
    parts=(
        PolygonPart(
            outer=(10, 10, 110, 10, 110, 110, 10, 110),
            holes=((40, 40, 80, 40, 80, 80, 40, 80),),
        ),
    )
)


def _coco(mask: Mask) -> dict[str, object]:
    return {"size": [mask.height, mask.width], "counts": mask.counts.encode()}


def _bitmaps() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    first_set = np.zeros((5, 9), np.uint8)
    first_set[0, 0] = 1
    return [
        np.zeros((4, 6), np.uint8),
        np.ones((6, 4), np.uint8),
        first_set,
        (rng.random((37, 53)) > 0.5).astype(np.uint8),
        (rng.random((120, 80)) > 0.9).astype(np.uint8),
    ]


@pytest.mark.parametrize("bitmap", _bitmaps(), ids=lambda b: "x".join(map(str, b.shape)))
def test_bitmap_to_rle_matches_pycocotools_encode(bitmap: np.ndarray) -> None:
    expected = coco_mask.encode(np.asfortranarray(bitmap))
    mask = bitmap_to_rle(bitmap)
    assert mask.counts == expected["counts"].decode()
    assert [mask.height, mask.width] == list(expected["size"])
    assert mask_area(mask) == int(coco_mask.area(expected)) == int(bitmap.sum())
    x, y, w, h = coco_mask.toBbox(expected)
    assert rle_bbox(mask) == Box(x=x, y=y, w=w, h=h)


@pytest.mark.parametrize("bitmap", _bitmaps(), ids=lambda b: "x".join(map(str, b.shape)))
def test_rle_to_bitmap_round_trip(bitmap: np.ndarray) -> None:
    decoded = rle_to_bitmap(bitmap_to_rle(bitmap))
    assert decoded.dtype == np.uint8
    assert decoded.flags.c_contiguous
    np.testing.assert_array_equal(decoded, bitmap)


def test_bitmap_to_rle_treats_any_nonzero_as_set() -> None:
    bitmap = np.zeros((3, 4), np.uint8)
    bitmap[1, 2] = 255
    assert rle_to_bitmap(bitmap_to_rle(bitmap)).tolist() == (bitmap > 0).astype(int).tolist()
    assert bitmap_to_rle(bitmap.astype(bool)) == bitmap_to_rle(bitmap)


def test_bitmap_must_be_two_dimensional() -> None:
    with pytest.raises(ValueError, match="2-D"):
        bitmap_to_rle(np.zeros((2, 3, 1), np.uint8))


def test_orientation_top_right_block_is_not_transposed() -> None:
    """Counts written by hand, column-major: 50 empty columns of 40 pixels, then 10 columns
    each set on their first 10 rows."""
    mask = rle_from_uncompressed([50 * 40] + [10, 30] * 10, height=40, width=60)
    bitmap = rle_to_bitmap(mask)
    assert bitmap.shape == (40, 60)
    assert bitmap[:10, 50:].all()
    assert bitmap.sum() == 100
    assert rle_bbox(mask) == Box(x=50, y=0, w=10, h=10)
    expected = np.zeros((40, 60), np.uint8)
    expected[:10, 50:] = 1
    assert bitmap_to_rle(expected) == mask


def test_uncompressed_round_trip_matches_pycocotools() -> None:
    counts = [3, 5, 0, 0, 2, 10]
    mask = rle_from_uncompressed(counts, height=4, width=5)
    oracle = coco_mask.frPyObjects({"size": [4, 5], "counts": counts}, 4, 5)
    assert mask.counts == oracle["counts"].decode()
    # zero-length runs in the middle are merged away, the leading zero run is kept
    assert rle_to_uncompressed(mask) == [3, 5, 2, 10]
    assert rle_to_uncompressed(rle_from_uncompressed([0, 6, 14], height=4, width=5)) == [0, 6, 14]


def test_uncompressed_counts_must_cover_the_image() -> None:
    with pytest.raises(ValueError, match="sum to height x width = 20"):
        rle_from_uncompressed([3, 4], height=4, width=5)


@pytest.mark.parametrize(
    ("rings", "height", "width"),
    [
        ([(10.5, 3.2, 50.1, 7.9, 30.0, 40.4)], 48, 64),
        ([(0, 0, 20, 0, 20, 5, 5, 5, 5, 30, 0, 30)], 30, 25),
        ([(-10, -10, 30, 5, 10, 60)], 50, 40),
    ],
)
def test_simple_polygon_to_rle_matches_frpyobjects(
    rings: list[tuple[float, ...]], height: int, width: int
) -> None:
    polygon = Polygon(parts=tuple(PolygonPart(outer=ring) for ring in rings))
    oracle = coco_mask.merge(coco_mask.frPyObjects([list(r) for r in rings], height, width))
    assert polygon_to_rle(polygon, height=height, width=width).counts == oracle["counts"].decode()


def test_polygon_parts_are_unioned_like_frpyobjects_merge() -> None:
    rings = [(0, 0, 10, 0, 10, 10, 0, 10), (5, 5, 30, 5, 30, 20, 5, 20)]
    polygon = Polygon(parts=tuple(PolygonPart(outer=ring) for ring in rings))
    oracle = coco_mask.merge(coco_mask.frPyObjects([list(r) for r in rings], 25, 40))
    mask = polygon_to_rle(polygon, height=25, width=40)
    assert mask.counts == oracle["counts"].decode()


def test_donut_area_matches_shoelace_and_pycocotools() -> None:
    mask = polygon_to_rle(DONUT, height=150, width=200)
    outer = coco_mask.decode(coco_mask.frPyObjects([list(DONUT.parts[0].outer)], 150, 200))
    hole = coco_mask.decode(coco_mask.frPyObjects([list(DONUT.parts[0].holes[0])], 150, 200))
    oracle_pixels = int((outer[..., 0] & (1 - hole[..., 0])).sum())
    assert area(DONUT) == 8400
    assert mask_area(mask) == oracle_pixels
    assert abs(mask_area(mask) - 8400) <= 0.01 * 8400
    assert rle_to_bitmap(mask)[60, 60] == 0  # the hole's centre (row y=60, column x=60)
    assert rle_to_bitmap(mask)[20, 60] == 1


def test_empty_polygon_is_an_empty_mask() -> None:
    mask = polygon_to_rle(Polygon(parts=()), height=3, width=4)
    assert mask_area(mask) == 0
    assert (mask.height, mask.width) == (3, 4)


@pytest.mark.parametrize("ring", [(0, 0, 10, 10), (0, 0, 10), (0, 0, 10, 0, 10)])
def test_polygon_ring_too_short_is_refused(ring: tuple[float, ...]) -> None:
    """pycocotools would read a four-number ring as a box."""
    with pytest.raises(ValueError, match="at least 3 points"):
        polygon_to_rle(Polygon.simple(ring), height=20, width=20)


def test_short_hole_is_refused_too() -> None:
    polygon = Polygon(parts=(PolygonPart(outer=DONUT.parts[0].outer, holes=((1, 1, 2, 2),)),))
    with pytest.raises(ValueError, match="at least 3 points"):
        polygon_to_rle(polygon, height=150, width=200)


def test_box_to_rle_matches_pycocotools_bbox() -> None:
    box = Box(x=3.5, y=2, w=20, h=7.25)
    oracle = coco_mask.frPyObjects(np.array([[3.5, 2, 20, 7.25]]), 30, 40)[0]
    mask = box_to_rle(box, height=30, width=40)
    assert mask.counts == oracle["counts"].decode()
    integer_box = box_to_rle(Box(x=4, y=2, w=20, h=7), height=30, width=40)
    assert mask_area(integer_box) == 140
    assert rle_bbox(integer_box) == Box(x=4, y=2, w=20, h=7)


def test_empty_mask_bbox_is_zero_like_pycocotools() -> None:
    assert rle_bbox(bitmap_to_rle(np.zeros((5, 5), np.uint8))) == Box(x=0, y=0, w=0, h=0)
