"""Counting what a platform format cannot carry, the same way in every writer: each field of an
annotation, task or item that is set (differs from its default) and that the format has no key
for is counted as ``not written: <what> <field>``, so a lossy export says what it lost."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from labelport.domain.model import Annotation, Item, Task
from labelport.formats.base import WriteContext

_IDENTITY = frozenset({"label", "geometry", "labelset", "dataset", "path", "width", "height",
                       "media_uri", "id"})
"""Fields every writer handles itself (or that are the store's, never exported)."""


def _default(field_default: Any, factory: Any) -> Any:
    if field_default is not MISSING:
        return field_default
    return factory() if factory is not MISSING else MISSING


_KINDS: tuple[tuple[type, str], ...] = ((Annotation, "annotation"), (Task, "task"),
                                        (Item, "item"))


def _kind(value: Annotation | Task | Item) -> tuple[type, str]:
    """The value's class among the three and its name; a subclass (a video frame's
    `FrameItem`) counts as its base, whose fields are the ones a format carries or not."""
    return next((cls, name) for cls, name in _KINDS if isinstance(value, cls))


def unwritten_fields(value: Annotation | Task | Item, *, carried: frozenset[str]) -> list[str]:
    """Names of ``value``'s fields that are set and neither carried nor identity fields."""
    out = []
    for f in fields(_kind(value)[0]):
        if f.name in carried or f.name in _IDENTITY:
            continue
        current = getattr(value, f.name)
        if current != _default(f.default, f.default_factory):
            out.append(f.name)
    return out


def count_unwritten(value: Annotation | Task | Item, *, carried: frozenset[str],
                    ctx: WriteContext) -> None:
    """Count each set field of ``value`` the format does not carry."""
    what = _kind(value)[1]
    for name in unwritten_fields(value, carried=carried):
        ctx.report.count(f"not written: {what} {name}")
