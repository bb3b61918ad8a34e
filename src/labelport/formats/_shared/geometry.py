"""Geometry decisions every writer makes the same way: the export's out-of-image policy, and
the axis-aligned envelope for formats that only carry boxes. Each change is counted in the
report, so nothing is converted or dropped silently."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labelport.domain.geometry import Box, Geometry, GeometryKind, Keypoints
from labelport.domain.geometry_ops import (
    bounding_box,
    clip_box,
    clip_to_image,
    is_inside_image,
)
from labelport.formats.base import OutsidePolicy, WriteContext


def is_box_on_image(box: Box, image_wh: tuple[int, int]) -> bool:
    """`is_inside_image` for a box in four comparisons (the common case of every writer: no
    policy applies to it, no envelope, nothing is cut off)."""
    width, height = image_wh
    return box.x >= 0 and box.y >= 0 and box.x + box.w <= width and box.y + box.h <= height


def fit_to_image(geometry: Geometry, *, image_wh: tuple[int, int],
                 ctx: WriteContext) -> Geometry | None:
    """``geometry`` after the export's out-of-image policy; None when it is dropped."""
    if isinstance(geometry, Box) and is_box_on_image(geometry, image_wh):
        return geometry  # every policy keeps a box on the image as it is
    if ctx.outside is OutsidePolicy.KEEP or geometry.kind is GeometryKind.NONE:
        return geometry
    if ctx.outside is OutsidePolicy.DROP:
        if is_inside_image(geometry, image_wh=image_wh):
            return geometry
        ctx.report.count("dropped: outside the image")
        return None
    clipped, changed = clip_to_image(geometry, image_wh=image_wh)
    if clipped is None:
        ctx.report.count("dropped: entirely outside the image")
    elif changed:
        ctx.report.count(f"clipped to the image: {geometry.kind.value}")
    return clipped


def object_on_image(geometry: Geometry, *, image_wh: tuple[int, int],
                    ctx: WriteContext) -> Geometry | None:
    """`fit_to_image` for formats that write objects only: an image-level class has no geometry
    to write, so it is not written (counted)."""
    if geometry.kind is GeometryKind.NONE:
        ctx.report.count("not written: none (image-level class)")
        return None
    return fit_to_image(geometry, image_wh=image_wh, ctx=ctx)


def envelope(geometry: Geometry, *, ctx: WriteContext) -> Box | None:
    """The axis-aligned box around ``geometry``, counted as a conversion unless it is one."""
    if isinstance(geometry, Box):
        return geometry
    box = bounding_box(geometry)
    if box is None:
        ctx.report.count(f"not written: {geometry.kind.value} has no box")
    else:
        ctx.report.count(f"converted: {geometry.kind.value} to its bounding box")
    return box


def outside_fraction(geometry: Geometry, *, image_wh: tuple[int, int]) -> float:
    """The share of the geometry's bounding box that lies outside the image, in ``[0, 1]``:
    KITTI's ``truncated`` and VOC's truncated flag when the annotation does not say. Computed on
    the geometry as annotated, before the out-of-image policy changed it."""
    if isinstance(geometry, Box) and is_box_on_image(geometry, image_wh):
        return 0.0
    box = bounding_box(geometry)
    if box is None or box.w <= 0 or box.h <= 0:
        return 0.0
    inside = clip_box(box, image_wh=image_wh)
    inside_area = 0.0 if inside is None else inside.w * inside.h
    return max(0.0, 1.0 - inside_area / (box.w * box.h))


def box_on_image(geometry: Geometry, *, image_wh: tuple[int, int],
                 ctx: WriteContext) -> Box | None:
    """The box a box-only format writes for ``geometry``: the out-of-image policy, then the
    envelope, then the policy again (a rotated box that sticks out is kept whole by the first
    pass, so its envelope is what gets clipped). None when nothing is written; every change is
    counted."""
    if isinstance(geometry, Box) and is_box_on_image(geometry, image_wh):
        return geometry  # a box on the image: no policy, no envelope, nothing counted
    fitted = object_on_image(geometry, image_wh=image_wh, ctx=ctx)
    if fitted is None:
        return None
    box = envelope(fitted, ctx=ctx)
    if box is None or box is fitted:
        return box
    clipped = fit_to_image(box, image_wh=image_wh, ctx=ctx)
    return clipped if isinstance(clipped, Box) else None


def truncation(geometry: Geometry, attributes: Mapping[str, Any], *,
               image_wh: tuple[int, int]) -> float:
    """How much of the object is cut off, in ``[0, 1]``: the ``truncated`` (or ``truncation``)
    attribute when it is a number or a bool (an annotator may know the object goes on beyond
    the image), else the share of its box outside the image (`outside_fraction`)."""
    for name in ("truncated", "truncation"):
        value = attributes.get(name)
        if isinstance(value, bool | int | float):
            return min(1.0, max(0.0, float(value)))
    return outside_fraction(geometry, image_wh=image_wh)


def count_unwritten_shape(geometry: Geometry, ctx: WriteContext) -> None:
    """For a writer that carries keypoints but not their object's outline (a COCO person's
    ``segmentation``): the outline is counted as not written, never lost silently."""
    if isinstance(geometry, Keypoints) and geometry.shape is not None:
        ctx.report.count("not written: shape of a keypoints object")
