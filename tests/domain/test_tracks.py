"""Track interpolation against values computed by hand, and time <-> frame conversion."""

from __future__ import annotations

from fractions import Fraction

import pytest

from labelport.domain.geometry import (
    Box,
    Keypoint,
    Keypoints,
    Mask,
    Polygon,
    PolygonPart,
    RotatedBox,
    Visibility,
)
from labelport.domain.model import Annotation
from labelport.domain.tracks import (
    expand_track,
    interpolate_geometry,
    lerp_angle_deg,
    split_tracks,
    visible_frames,
)
from labelport.domain.video import frame_at, time_of


def _key(frame: int, geometry, *, outside: bool = False, occluded: bool = False,
         track: int = 1) -> Annotation:
    return Annotation(label="car", geometry=geometry, frame=frame, instance_id=track,
                      outside=outside, attributes={"occluded": occluded})


def test_box_moves_linearly_between_keyframes() -> None:
    keys = [_key(0, Box(x=0, y=0, w=10, h=10)), _key(4, Box(x=40, y=20, w=30, h=10))]
    shapes = list(expand_track(keys, frame_count=5))
    assert [s.frame for s in shapes] == [0, 1, 2, 3, 4]
    assert [s.keyframe for s in shapes] == [True, False, False, False, True]
    # x: 0 -> 40 in 4 steps of 10; y: 0 -> 20 by 5; w: 10 -> 30 by 5
    assert shapes[1].annotation.geometry == Box(x=10, y=5, w=15, h=10)
    assert shapes[3].annotation.geometry == Box(x=30, y=15, w=25, h=10)
    assert shapes[2].annotation.frame == 2


def test_track_leaves_and_reenters() -> None:
    """Visible 0-3 (moving towards where it leaves at 4), out 4-6, back at 7, held to 9."""
    keys = [_key(0, Box(x=0, y=0, w=10, h=10)),
            _key(4, Box(x=80, y=0, w=10, h=10), outside=True),
            _key(7, Box(x=5, y=5, w=10, h=10), occluded=True)]
    shapes = list(expand_track(keys, frame_count=10))
    assert [s.frame for s in shapes] == [0, 1, 2, 3, 7, 8, 9]
    assert [s.keyframe for s in shapes] == [True, False, False, False, True, False, False]
    assert shapes[3].annotation.geometry == Box(x=60, y=0, w=10, h=10)  # 3/4 of 0 -> 80
    assert shapes[5].annotation.geometry == Box(x=5, y=5, w=10, h=10)  # held
    # attributes (occluded among them) come from the previous keyframe
    assert [s.annotation.attributes["occluded"] for s in shapes] == [False] * 4 + [True] * 3
    assert list(visible_frames(keys, frame_count=10)) == [0, 1, 2, 3, 7, 8, 9]


def test_last_keyframe_holds_only_its_frame_when_length_unknown() -> None:
    keys = [_key(3, Box(x=1, y=1, w=2, h=2))]
    assert [s.frame for s in expand_track(keys, frame_count=None)] == [3]
    assert list(visible_frames(keys, frame_count=None)) == [3]


def test_two_keyframes_on_one_frame_are_refused() -> None:
    keys = [_key(2, Box(x=0, y=0, w=1, h=1)), _key(2, Box(x=1, y=0, w=1, h=1))]
    with pytest.raises(ValueError, match="two keyframes on frame 2"):
        list(expand_track(keys, frame_count=3))


@pytest.mark.parametrize(("a", "b", "t", "expected"), [
    (350.0, 10.0, 0.5, 0.0),     # through 0, not 180
    (10.0, 350.0, 0.25, 5.0),    # backwards by 20 degrees in all
    (0.0, 90.0, 0.5, 45.0),
    (90.0, 270.0, 0.5, 0.0),     # a half turn either way: the tie turns counter-clockwise
    (270.0, 0.0, 0.5, 315.0),
])
def test_angle_takes_the_short_way(a: float, b: float, t: float, expected: float) -> None:
    assert lerp_angle_deg(a, b, t) == pytest.approx(expected)


def test_rotated_box() -> None:
    a = RotatedBox(cx=10, cy=10, w=4, h=2, angle_deg=340)
    b = RotatedBox(cx=20, cy=30, w=8, h=2, angle_deg=20)
    assert interpolate_geometry(a, b, 0.25) == RotatedBox(cx=12.5, cy=15, w=5, h=2,
                                                          angle_deg=350)


def test_keypoints_move_when_labelled_in_both() -> None:
    a = Keypoints(points=(Keypoint(x=0, y=0), Keypoint(x=10, y=10, v=Visibility.OCCLUDED),
                          Keypoint(x=0, y=0, v=Visibility.NOT_LABELED)))
    b = Keypoints(points=(Keypoint(x=10, y=20), Keypoint(x=20, y=10),
                          Keypoint(x=50, y=50)))
    got = interpolate_geometry(a, b, 0.5)
    assert got == Keypoints(points=(Keypoint(x=5, y=10), Keypoint(x=15, y=10,
                                                                  v=Visibility.OCCLUDED),
                                    Keypoint(x=0, y=0, v=Visibility.NOT_LABELED)))


def test_polygons_with_equal_counts_move_others_hold() -> None:
    a = Polygon.simple((0, 0, 10, 0, 10, 10))
    b = Polygon.simple((10, 0, 30, 0, 30, 20))
    assert interpolate_geometry(a, b, 0.5) == Polygon.simple((5, 0, 20, 0, 20, 15))
    square = Polygon.simple((0, 0, 10, 0, 10, 10, 0, 10))
    assert interpolate_geometry(a, square, 0.5) is a
    holed_a = Polygon(parts=(PolygonPart(outer=(0, 0, 8, 0, 8, 8), holes=((1, 1, 2, 1, 2, 2),)),))
    holed_b = Polygon(parts=(PolygonPart(outer=(2, 0, 10, 0, 10, 8),
                                         holes=((3, 1, 4, 1, 4, 2),)),))
    assert interpolate_geometry(holed_a, holed_b, 0.5) == Polygon(parts=(PolygonPart(
        outer=(1, 0, 9, 0, 9, 8), holes=((2, 1, 3, 1, 3, 2),)),))


def test_masks_hold_the_previous_keyframe() -> None:
    a = Mask(counts="0", height=1, width=1)
    b = Mask(counts="1", height=1, width=1)
    keys = [_key(0, a), _key(2, b)]
    assert [s.annotation.geometry for s in expand_track(keys, frame_count=3)] == [a, a, b]


def test_split_tracks_groups_by_labelset_id_and_kind() -> None:
    box, points = Box(x=0, y=0, w=1, h=1), Keypoints(points=(Keypoint(x=0, y=0),))
    annotations = [_key(5, box), _key(1, box), _key(1, points), _key(1, box, track=2),
                   Annotation(label="car", geometry=box, frame=3),
                   Annotation(label="car", geometry=box)]
    tracks, others = split_tracks(annotations)
    assert len(tracks) == 3
    assert [a.frame for a in tracks[("ground-truth", 1, box.kind)]] == [1, 5]
    assert len(others) == 2


@pytest.mark.parametrize(("time_s", "rate", "frame"), [
    (0.0, Fraction(25), 0), (0.039, Fraction(25), 0), (0.04, Fraction(25), 1),
    (0.1, Fraction(10), 1), (1.0, Fraction(30000, 1001), 29), (1.001, Fraction(30000, 1001), 30),
])
def test_time_to_frame(time_s: float, rate: Fraction, frame: int) -> None:
    assert frame_at(time_s, rate) == frame


def test_frame_to_time_round_trips() -> None:
    rate = Fraction(30000, 1001)
    assert time_of(30, rate) == pytest.approx(1.001)
    assert all(frame_at(time_of(n, rate), rate) == n for n in range(0, 100_000, 997))
    with pytest.raises(ValueError):
        time_of(-1, rate)


def test_codec_keeps_outside_and_video_info() -> None:
    from labelport.domain import codec
    from labelport.domain.model import Item
    from labelport.domain.video import VideoInfo

    item = Item(dataset="d", path="clip.mp4", width=64, height=48, frame_count=12,
                video=VideoInfo(frame_rate=Fraction(30000, 1001), duration_s=0.4,
                                rotation_deg=90, codec="h264"))
    data = codec.item_to_json(item)
    assert data["video"] == {"frame_rate": "30000/1001", "duration_s": 0.4,
                             "rotation_deg": 90, "codec": "h264"}
    assert codec.item_from_json(data) == item
    key = _key(4, Box(x=1, y=2, w=3, h=4), outside=True)
    assert codec.annotation_to_json(key)["outside"] is True
    assert codec.annotation_from_json(codec.annotation_to_json(key)) == key


def test_per_frame_shapes_reduce_to_the_same_keyframes() -> None:
    from labelport.domain.tracks import reduce_to_keyframes
    from tests.video_project import CAR, FRAMES, PERSON, ZONE

    for keys in (CAR, PERSON, ZONE):
        shapes = [s.annotation for s in expand_track(list(keys), frame_count=FRAMES)]
        assert reduce_to_keyframes(shapes, frame_count=FRAMES) == list(keys)


def test_reduction_ends_a_track_that_stops_before_the_video() -> None:
    from labelport.domain.tracks import reduce_to_keyframes

    shapes = [_key(f, Box(x=f, y=0, w=2, h=2)) for f in range(3)]
    assert reduce_to_keyframes(shapes, frame_count=10) == [
        _key(0, Box(x=0, y=0, w=2, h=2)), _key(3, Box(x=3, y=0, w=2, h=2), outside=True)]
    assert reduce_to_keyframes(shapes, frame_count=None) == [
        _key(0, Box(x=0, y=0, w=2, h=2)), _key(2, Box(x=2, y=0, w=2, h=2))]
