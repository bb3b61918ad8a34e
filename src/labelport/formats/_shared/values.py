"""Attribute and metadata values as text, for formats whose fields hold only strings (CSV/TSV
cells, VOC's ``<attributes>`` block): text stays as is, anything else is JSON, so every value
reads back with its type and all such formats agree on the encoding."""

from __future__ import annotations

from typing import Any

import orjson

from labelport.errors import InputError


def _reads_as_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def encode_value(value: Any) -> str:
    """``value`` as text: text as is unless it would read back as something else (``"true"``,
    ``"5"``, empty), everything else as JSON."""
    if isinstance(value, str) and value and not _reads_as_json(value):
        return value
    try:
        return orjson.dumps(value, default=str).decode()
    except orjson.JSONEncodeError as error:  # an integer beyond 64 bits, nesting too deep
        raise InputError(f"a {type(value).__name__} value cannot be written as text "
                         f"({error})") from None


def decode_value(text: str) -> Any:
    """The inverse of `encode_value` (for non-empty text)."""
    return orjson.loads(text) if _reads_as_json(text) else text


def flag_value(value: Any) -> int:
    """0 or 1 for a flag given as a bool, a number or text (``1``, ``true``, ``yes`` are set),
    as VOC's and CVAT's ``occluded`` want it."""
    if isinstance(value, str):
        return int(value.strip().lower() in {"1", "true", "yes"})
    return int(bool(value))
