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


def unwritten_fields(value: Annotation | Task | Item, *, carried: frozenset[str]) -> list[str]:
    """Names of ``value``'s fields that are set and neither carried nor identity fields."""
    out = []
    for f in fields(value):
        if f.name in carried or f.name in _IDENTITY:
            continue
        current = getattr(value, f.name)
        if current != _default(f.default, f.default_factory):
            out.append(f.name)
    return out


def count_unwritten(value: Annotation | Task | Item, *, carried: frozenset[str],
                    ctx: WriteContext) -> None:
    """Count each set field of ``value`` the format does not carry."""
    what = {Annotation: "annotation", Task: "task", Item: "item"}[type(value)]
    for name in unwritten_fields(value, carried=carried):
        ctx.report.count(f"not written: {what} {name}")
