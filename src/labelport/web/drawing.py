"""Annotations as SVG elements drawn over an image, in the image's own pixel coordinates (the
SVG's viewBox is ``0 0 width height``, so the browser scales them with the picture).

Pure: values in, `Shape`s out (an element name and its attributes); the template writes them,
escaped. Boxes are rects, rotated boxes their four corners, polygons one path per polygon with
``fill-rule="evenodd"`` so holes stay open, polylines open paths, keypoints dots joined by the
class's skeleton (an occluded point is hollow, an unlabelled one is not drawn), masks a
coloured PNG laid over the image. Predictions are dashed."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageColor

from labelport.domain.geometry import (
    Box,
    Keypoints,
    Mask,
    Polygon,
    Polyline,
    Ring,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import rotated_box_corners
from labelport.domain.masks import rle_to_bitmap
from labelport.domain.model import Annotation, Source
from labelport.domain.schema import LabelSchema

PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
           "#bfef45", "#469990", "#9a6324", "#800000", "#808000", "#000075", "#a9a9a9")
"""Colours of classes without their own, by schema position."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Shape:
    element: str
    """rect, path, circle, line or image."""
    attrs: Mapping[str, str]
    label: str
    model: bool = False
    title: str = ""
    classes: tuple[str, ...] = field(default=("shape",))


def class_colours(schema: LabelSchema) -> dict[str, str]:
    """Each class's colour: the schema's, else one from `PALETTE` by position."""
    return {c.name: c.color or PALETTE[position % len(PALETTE)]
            for position, c in enumerate(schema.classes)}


def _n(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _path(ring: Ring, *, closed: bool) -> str:
    points = [f"{_n(ring[k])} {_n(ring[k + 1])}" for k in range(0, len(ring) - 1, 2)]
    if not points:
        return ""
    return "M" + " L".join(points) + (" Z" if closed else "")


def shapes(annotations: Iterable[Annotation], schema: LabelSchema, *,
           mask_side: int = 256) -> list[Shape]:
    """The SVG elements of ``annotations``; masks are rendered at most ``mask_side`` pixels
    on their longer side (the browser scales them to the image)."""
    colours = class_colours(schema)
    skeletons = {c.name: c.skeleton for c in schema.classes}
    drawn: list[Shape] = []
    for annotation in annotations:
        drawn.extend(_shapes_of(annotation, colours.get(annotation.label, PALETTE[-1]),
                                skeletons.get(annotation.label, ()), mask_side=mask_side))
    return drawn


def _shapes_of(annotation: Annotation, colour: str, skeleton: Iterable[tuple[int, int]], *,
               mask_side: int) -> list[Shape]:
    model = annotation.source is Source.MODEL
    title = annotation.label + (f" ({annotation.score:.2f})"
                                if annotation.score is not None else "")
    outline = ("shape", "model") if model else ("shape",)
    drawn: list[Shape] = []

    def add(element: str, attrs: dict[str, str], *, filled: bool = False,
            kind: tuple[str, ...] = outline) -> None:
        style = {} if element == "image" else {"stroke": colour}
        if filled:
            style["fill"] = colour
        drawn.append(Shape(element=element, attrs={**attrs, **style}, label=annotation.label,
                           model=model, title=title,
                           classes=kind + (("filled",) if filled else ())))

    g = annotation.geometry
    if isinstance(g, Box):
        add("rect", {"x": _n(g.x), "y": _n(g.y), "width": _n(g.w), "height": _n(g.h)})
    elif isinstance(g, RotatedBox):
        add("path", {"d": _path(rotated_box_corners(g), closed=True)})
    elif isinstance(g, Polygon):
        rings = [ring for part in g.parts for ring in (part.outer, *part.holes)]
        add("path", {"d": " ".join(_path(r, closed=True) for r in rings),
                     "fill-rule": "evenodd"}, filled=True)
    elif isinstance(g, Polyline):
        add("path", {"d": _path(g.points, closed=False)})
    elif isinstance(g, Keypoints):
        points = g.points
        for a_index, b_index in skeleton:
            if max(a_index, b_index) >= len(points):
                continue
            a, b = points[a_index], points[b_index]
            if Visibility.NOT_LABELED not in (a.v, b.v):
                add("line", {"x1": _n(a.x), "y1": _n(a.y), "x2": _n(b.x), "y2": _n(b.y)},
                    kind=("skeleton",))
        for point in points:
            if point.v is not Visibility.NOT_LABELED:
                add("circle", {"cx": _n(point.x), "cy": _n(point.y), "r": "3"},
                    filled=point.v is Visibility.VISIBLE)
    elif isinstance(g, Mask):
        add("image", {"x": "0", "y": "0", "width": str(g.width), "height": str(g.height),
                      "href": mask_png(g, colour, max_side=mask_side),
                      "preserveAspectRatio": "none"}, kind=("mask",))
    return drawn


def mask_png(mask: Mask, colour: str, *, max_side: int) -> str:
    """The mask as a ``data:`` PNG URL: ``colour`` where set, transparent elsewhere, scaled
    down to ``max_side`` pixels on its longer side."""
    bitmap = rle_to_bitmap(mask).astype(bool)
    image = Image.fromarray(np.where(bitmap, 255, 0).astype(np.uint8), mode="L")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.NEAREST)
    try:
        red, green, blue = ImageColor.getrgb(colour)[:3]
    except ValueError:  # a schema colour no browser knows either: the palette's last
        red, green, blue = ImageColor.getrgb(PALETTE[-1])[:3]
    rgba = Image.new("RGBA", image.size, (red, green, blue, 0))
    rgba.putalpha(image)
    buffer = io.BytesIO()
    rgba.save(buffer, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
