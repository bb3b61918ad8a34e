"""Bar charts drawn by the server as SVG: what a chart shows is computed here, the SVG is
written by the `charts.html` macro (escaped like every template)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    label: str
    value: int
    fraction: float
    """``value`` over the largest value of the chart (0 to 1), the bar's length."""


def bars(counts: Mapping[str, int]) -> list[Bar]:
    """One bar per entry, in the given order (the project's own order: schema, statuses)."""
    top = max(counts.values(), default=0)
    return [Bar(label=label, value=value, fraction=value / top if top else 0.0)
            for label, value in counts.items()]
