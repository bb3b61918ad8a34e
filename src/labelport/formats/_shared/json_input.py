"""Reading JSON files at the boundary with msgspec, the same way in every JSON format: errors
that name the file (or line) and the JSON path, and the cyclic garbage collector paused while a
large file becomes millions of small objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from labelport.errors import InputError

_T = TypeVar("_T")

MAX_JSON_DEPTH = 1000
"""Where msgspec stops decoding nested arrays and objects (its own recursion limit)."""


def decode_json(raw: bytes, origin: str | Path) -> Any:
    """``raw`` as plain JSON values; `InputError` naming ``origin`` when it is not JSON or nests
    deeper than `MAX_JSON_DEPTH`."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InputError(f"{origin}: not valid JSON: {exc}") from None
    except RecursionError:
        raise too_deep(origin) from None


def too_deep(origin: str | Path) -> InputError:
    """msgspec refuses JSON nested deeper than its limit with a `RecursionError`; no annotation
    format nests that deep."""
    return InputError(f"{origin}: JSON nested too deeply (over {MAX_JSON_DEPTH} levels)")


def convert(obj: Any, kind: type[_T], origin: str | Path, *, at: str = "$") -> _T:
    """``obj``, found at JSON path ``at`` in ``origin``, validated as ``kind``. msgspec's
    ``Expected `int`, got `str` - at `$.x``` becomes ``origin: at {at}.x: Expected ...``: its
    path is relative to the value it was given."""
    try:
        return msgspec.convert(obj, kind)
    except msgspec.ValidationError as exc:
        what, _, where = str(exc).partition(" - at `$")
        raise InputError(f"{origin}: at {at}{where.rstrip('`')}: {what}") from None


@contextmanager
def gc_paused() -> Iterator[None]:
    """Building millions of small objects triggers the cyclic collector over and over (it halves
    the COCO reading time) though nothing built is garbage; it runs again afterwards.

    What was built then goes straight to the oldest generation (`gc.freeze` then `gc.unfreeze`,
    which puts the frozen objects there): left young, the first collections after the pause
    would each walk all of it on its way up (0.4-0.6 s for 400k COCO annotations). Only a full
    collection looks at it again, as at any long-lived data."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()
