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
