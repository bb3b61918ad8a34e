"""Tracks on videos: keyframes in, one shape per frame out (CVAT's semantics).

An annotation on a video item with both ``frame`` and ``instance_id`` set is a keyframe of a
track; the track is every such annotation with the same labelset, ``instance_id`` and geometry
kind. Only keyframes are stored; the frames between them are computed here, so a round trip
through a format that keeps keyframes (CVAT for video, the native format) is exact.

The rules, as CVAT's ``TrackManager.get_interpolated_shapes`` applies them:
- from a keyframe that is not ``outside`` up to the next keyframe, the object is visible and
  its geometry moves from one keyframe's to the next's (also when the next one is ``outside``:
  the object moves to where it leaves);
- from an ``outside`` keyframe up to the next keyframe, the object is not in the frame;
- the last keyframe, unless ``outside``, holds to the end of the video;
- interpolated frames take everything but the geometry (attributes, among them ``occluded``,
  tags, score) from the previous keyframe.

Geometry between keyframes ``a`` (frame ``fa``) and ``b`` (frame ``fb``) at frame ``f`` with
``t = (f - fa) / (fb - fa)``: boxes, rotated boxes (the angle turned the short way round),
keypoints (each point labelled in both keyframes; others keep ``a``'s), polylines and polygons
with the same number of points in every ring move linearly; other polygons, masks and
image-level labels keep ``a``'s geometry.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Keypoint,
    Keypoints,
    Polygon,
    PolygonPart,
    Polyline,
    Ring,
    RotatedBox,
    Visibility,
)
from labelport.domain.model import Annotation

TrackKey = tuple[str, int, GeometryKind]
"""``(labelset, instance_id, geometry kind)``: what makes annotations one track."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackShape:
    """The object of a track on one frame: a keyframe as stored, or computed from them."""

    annotation: Annotation
    frame: int
    keyframe: bool


def is_keyframe(annotation: Annotation) -> bool:
    """Whether an annotation (on a video) is a keyframe of a track."""
    return annotation.frame is not None and annotation.instance_id is not None


def track_key(annotation: Annotation) -> TrackKey:
    if annotation.instance_id is None:
        raise ValueError("an annotation without instance_id is not on a track")
    return (annotation.labelset, annotation.instance_id, annotation.geometry.kind)


def split_tracks(
        annotations: Iterable[Annotation],
) -> tuple[dict[TrackKey, list[Annotation]], list[Annotation]]:
    """The tracks (keyframes sorted by frame, tracks in order of first appearance) and the
    annotations that are on no track (single-frame shapes, item-level labels)."""
    tracks: dict[TrackKey, list[Annotation]] = defaultdict(list)
    others: list[Annotation] = []
    for annotation in annotations:
        if is_keyframe(annotation):
            tracks[track_key(annotation)].append(annotation)
        else:
            others.append(annotation)
    for keyframes in tracks.values():
        keyframes.sort(key=_frame)
    return dict(tracks), others


def _frame(annotation: Annotation) -> int:
    if annotation.frame is None:
        raise ValueError("a keyframe needs a frame")
    return annotation.frame


def expand_track(keyframes: list[Annotation], *, frame_count: int | None) -> Iterator[TrackShape]:
    """The track's visible shape on every frame, in frame order.

    ``keyframes`` are one track's, sorted by frame with one keyframe per frame (a second one on
    the same frame is an error). ``frame_count`` ends the hold of the last keyframe; None holds
    it on its own frame only (a video whose length is unknown)."""
    for previous, current in zip(keyframes, keyframes[1:], strict=False):
        if _frame(previous) == _frame(current):
            raise ValueError(f"track {previous.instance_id} has two keyframes on frame "
                             f"{previous.frame}")
    for index, key in enumerate(keyframes):
        start = _frame(key)
        if key.outside:
            continue
        following = keyframes[index + 1] if index + 1 < len(keyframes) else None
        yield TrackShape(annotation=key, frame=start, keyframe=True)
        if following is not None:
            end = _frame(following)
            for frame in range(start + 1, end):
                t = (frame - start) / (end - start)
                geometry = interpolate_geometry(key.geometry, following.geometry, t)
                yield _computed(key, geometry, frame)
        elif frame_count is not None:
            for frame in range(start + 1, frame_count):
                yield _computed(key, key.geometry, frame)


def _computed(key: Annotation, geometry: Geometry, frame: int) -> TrackShape:
    return TrackShape(annotation=dataclasses.replace(key, geometry=geometry, frame=frame),
                      frame=frame, keyframe=False)


def visible_frames(keyframes: list[Annotation], *, frame_count: int | None) -> Iterator[int]:
    """The frames on which the track is visible (what `expand_track` yields, without computing
    geometries)."""
    for index, key in enumerate(keyframes):
        if key.outside:
            continue
        start = _frame(key)
        if index + 1 < len(keyframes):
            end = _frame(keyframes[index + 1])
        else:
            end = max(start + 1, frame_count or 0)
        yield from range(start, end)


# --- geometry ---------------------------------------------------------------------------


def interpolate_geometry(a: Geometry, b: Geometry, t: float) -> Geometry:
    """The geometry a fraction ``t`` (0..1) of the way from ``a`` to ``b``; ``a`` when the two
    cannot be interpolated (see the module docstring)."""
    match a, b:
        case Box(), Box():
            return Box(x=_lerp(a.x, b.x, t), y=_lerp(a.y, b.y, t),
                       w=_lerp(a.w, b.w, t), h=_lerp(a.h, b.h, t))
        case RotatedBox(), RotatedBox():
            return RotatedBox(cx=_lerp(a.cx, b.cx, t), cy=_lerp(a.cy, b.cy, t),
                              w=_lerp(a.w, b.w, t), h=_lerp(a.h, b.h, t),
                              angle_deg=lerp_angle_deg(a.angle_deg, b.angle_deg, t))
        case Keypoints(), Keypoints() if len(a.points) == len(b.points):
            return dataclasses.replace(a, points=tuple(
                _lerp_keypoint(p, q, t) for p, q in zip(a.points, b.points, strict=True)))
        case Polyline(), Polyline() if len(a.points) == len(b.points):
            return Polyline(points=_lerp_ring(a.points, b.points, t))
        case Polygon(), Polygon() if _same_structure(a, b):
            return Polygon(parts=tuple(
                PolygonPart(outer=_lerp_ring(p.outer, q.outer, t),
                            holes=tuple(_lerp_ring(h, k, t)
                                        for h, k in zip(p.holes, q.holes, strict=True)))
                for p, q in zip(a.parts, b.parts, strict=True)))
    return a


def lerp_angle_deg(a: float, b: float, t: float) -> float:
    """An angle ``t`` of the way from ``a`` to ``b`` degrees the short way round, in
    ``[0, 360)``: from 350 to 10 passes through 0, not 180. A half turn, either way as
    short, turns counter-clockwise."""
    turn = (b - a + 180.0) % 360.0 - 180.0
    return (a + turn * t) % 360.0


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def _lerp_ring(a: Ring, b: Ring, t: float) -> Ring:
    return tuple(_lerp(p, q, t) for p, q in zip(a, b, strict=True))


def _lerp_keypoint(p: Keypoint, q: Keypoint, t: float) -> Keypoint:
    if p.v is Visibility.NOT_LABELED or q.v is Visibility.NOT_LABELED:
        return p
    return Keypoint(x=_lerp(p.x, q.x, t), y=_lerp(p.y, q.y, t), v=p.v)


def _same_structure(a: Polygon, b: Polygon) -> bool:
    if len(a.parts) != len(b.parts):
        return False
    for p, q in zip(a.parts, b.parts, strict=True):
        if len(p.outer) != len(q.outer) or len(p.holes) != len(q.holes):
            return False
        if any(len(h) != len(k) for h, k in zip(p.holes, q.holes, strict=True)):
            return False
    return True


# --- from per-frame shapes back to keyframes --------------------------------------------


MAX_SPAN = 250
"""The longest run of frames one pair of keyframes spans when reducing per-frame shapes: bounds
the work (each extension re-checks the frames it spans) at the cost of a keyframe every 250
frames on an object that keeps still or moves steadily for longer."""


def reduce_to_keyframes(shapes: list[Annotation], *, frame_count: int | None,
                        tolerance_px: float = 0.005) -> list[Annotation]:
    """The keyframes from which `expand_track` gives back ``shapes``: one track's per-frame
    annotations (sorted by frame, one per frame) as formats without keyframes hold them (MOT).

    A shape is dropped when interpolating its neighbouring keyframes reproduces it within
    ``tolerance_px`` and with the same fields; a gap in the frames (and the end of a track
    before the video's end) becomes an ``outside`` keyframe whose geometry continues the last
    motion, so the frames before it interpolate as they were."""
    if not shapes:
        return []
    segments: list[list[Annotation]] = [[shapes[0]]]
    for shape in shapes[1:]:
        if _frame(shape) == _frame(segments[-1][-1]) + 1:
            segments[-1].append(shape)
        else:
            segments.append([shape])
    keyframes: list[Annotation] = []
    for index, segment in enumerate(segments):
        end = _frame(segment[-1]) + 1
        if index + 1 < len(segments) or (frame_count is not None and end < frame_count):
            last = segment[-1]
            before = segment[-2] if len(segment) > 1 else last
            segment = [*segment, dataclasses.replace(
                last, frame=end, outside=True,
                geometry=interpolate_geometry(before.geometry, last.geometry, 2.0))]
        reduced = _reduce_run(segment, tolerance_px)
        if index + 1 == len(segments) and not segment[-1].outside and end == frame_count:
            reduced = _without_trailing_hold(reduced)
        keyframes += reduced
    return keyframes


def _without_trailing_hold(kept: list[Annotation]) -> list[Annotation]:
    """A run that lasts to the video's end needs no keyframe where the object stopped changing:
    the last keyframe holds to the end."""
    while len(kept) > 1 and dataclasses.replace(kept[-1], frame=kept[-2].frame) == kept[-2]:
        kept.pop()
    return kept


def _reduce_run(run: list[Annotation], tolerance_px: float) -> list[Annotation]:
    """The keyframes of consecutive frames (the first and last always kept)."""
    kept = [run[0]]
    start = 0
    while start < len(run) - 1:
        end = start + 1
        while (end + 1 < len(run) and end + 1 - start <= MAX_SPAN
               and _between_follow(run, start, end + 1, tolerance_px)):
            end += 1
        kept.append(run[end])
        start = end
    return kept


def _between_follow(run: list[Annotation], start: int, end: int, tolerance_px: float) -> bool:
    """Whether every shape strictly between ``start`` and ``end`` is what interpolating the two
    gives, with the same fields as ``run[start]``."""
    a, b = run[start], run[end]
    if a.outside:
        return False
    span = end - start
    for k in range(start + 1, end):
        shape = run[k]
        if dataclasses.replace(shape, geometry=a.geometry, frame=a.frame) != a:
            return False
        expected = interpolate_geometry(a.geometry, b.geometry, (k - start) / span)
        if not _close(expected, shape.geometry, tolerance_px):
            return False
    return True


def _close(a: Geometry, b: Geometry, tolerance_px: float) -> bool:
    """Equal geometries, numbers compared within ``tolerance_px`` (angles within 0.01 degree)."""
    numbers_a, numbers_b = _numbers(a), _numbers(b)
    if numbers_a is None or numbers_b is None or len(numbers_a) != len(numbers_b):
        return a == b
    if isinstance(a, RotatedBox) and isinstance(b, RotatedBox):
        turn = abs((a.angle_deg - b.angle_deg + 180.0) % 360.0 - 180.0)
        numbers_a, numbers_b = numbers_a[:-1], numbers_b[:-1]
        if turn > 0.01:
            return False
    return all(abs(p - q) <= tolerance_px for p, q in zip(numbers_a, numbers_b, strict=True))


def _numbers(geometry: Geometry) -> tuple[float, ...] | None:
    match geometry:
        case Box(x=x, y=y, w=w, h=h):
            return (x, y, w, h)
        case RotatedBox(cx=cx, cy=cy, w=w, h=h, angle_deg=angle):
            return (cx, cy, w, h, angle)
        case Polyline(points=points):
            return points
        case Polygon(parts=parts) if len(parts) == 1 and not parts[0].holes:
            return parts[0].outer
        case Keypoints(points=points) if geometry.box is None and geometry.shape is None:
            return tuple(v for p in points for v in (p.x, p.y, float(p.v)))
    return None


def on_every_frame(annotations: Iterable[Annotation], *, frame_count: int | None
                   ) -> tuple[list[Annotation], list[Annotation]]:
    """A video's objects as formats without keyframes hold them: every track on each frame it
    is visible and the shapes on one frame, sorted by frame; and apart, the annotations that
    have no frame."""
    tracks, others = split_tracks(annotations)
    framed = [s.annotation for keys in tracks.values()
              for s in expand_track(keys, frame_count=frame_count)]
    framed += (a for a in others if a.frame is not None)
    framed.sort(key=_frame)
    return framed, [a for a in others if a.frame is None]


def tracks_from_frames(annotations: Iterable[Annotation], *, frame_count: int | None
                       ) -> list[Annotation]:
    """The inverse of `on_every_frame`: each track's per-frame shapes reduced to keyframes
    (`reduce_to_keyframes`), other annotations as they are."""
    tracks, others = split_tracks(annotations)
    keyframes = [k for shapes in tracks.values()
                 for k in reduce_to_keyframes(shapes, frame_count=frame_count)]
    return [*keyframes, *others]
