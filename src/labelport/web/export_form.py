"""The export dialog's form as the service's export JSON (`labelport.export.request`), so a
page's export means what the API's and the CLI's do: the form only gathers fields, the one
parser (`ExportOptions.from_json`, through `jobs.service.check_request`) decides.

Field names are the JSON keys (``selection.labels`` is ``labels``...); lists come as repeated
fields (checkboxes, multiple selects) and ``NAME=VALUE`` pairs as lines of a text box."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import FormData

from labelport.errors import InputError

TEXT_SELECTION = ("labelset", "annotator", "created_after", "created_before", "updated_after",
                  "updated_before", "source")
NUMBER_SELECTION = {"min_score": float, "min_width": int, "max_width": int, "min_height": int,
                    "max_height": int}
LIST_SELECTION = ("datasets", "statuses", "labels")
TEXT_KEYS = ("name", "password", "release", "since_release", "media", "paths", "outside",
             "package", "frames", "deliver_to", "webhook")
FIELDS = ("deliver_to", "webhook", "options", "format", "name", "datasets", "labelset", "statuses",
          "labels", "annotator",
          "source", "min_score", "created_after", "created_before", "updated_after",
          "updated_before", "min_width", "max_width", "min_height", "max_height", "file_types",
          "meta", "ids", "only_annotated", "map", "drop_class", "class_ids", "check",
          "min_box_px", "split", "split_strategy", "split_seed", "split_field", "group_by",
          "media", "paths", "outside", "package", "password", "release", "since_release",
          "frames", "frame_step", "split_by_frame")
"""Every field of the dialog; an error naming one is shown next to it (the first named, in
this order: a format's unknown option names the format too)."""


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def _values(form: FormData, key: str) -> list[str]:
    return [v.strip() for v in form.getlist(key) if isinstance(v, str) and v.strip()]


def _pairs(form: FormData, key: str) -> dict[str, str]:
    """``NAME=VALUE`` lines of a text box."""
    pairs: dict[str, str] = {}
    for number, line in enumerate(_text(form, key).splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise InputError(f"`{key}` line {number}: {line.strip()!r} is not NAME=VALUE")
        pairs[name.strip()] = value.strip()
    return pairs


def _number(form: FormData, key: str, kind: type) -> float | int | None:
    text = _text(form, key)
    if not text:
        return None
    try:
        number: float | int = kind(text)
    except ValueError:
        raise InputError(f"`{key}`: {text!r} is not a {'whole ' if kind is int else ''}"
                         "number") from None
    return number


def request_from_form(form: FormData) -> dict[str, Any]:
    """The export JSON of the dialog's fields; a malformed field is an `InputError` naming it
    in backquotes (`field_of` finds it)."""
    request: dict[str, Any] = {"format": _text(form, "format")}
    selection: dict[str, Any] = {}
    for key in TEXT_SELECTION:
        if _text(form, key):
            selection[key] = _text(form, key)
    for key, kind in NUMBER_SELECTION.items():
        number = _number(form, key, kind)
        if number is not None:
            selection[key] = number
    for key in LIST_SELECTION:
        if _values(form, key):
            selection[key] = _values(form, key)
    if _text(form, "file_types"):
        selection["file_types"] = [_text(form, "file_types")]
    meta = [line.strip() for line in _text(form, "meta").splitlines() if line.strip()]
    if meta:
        selection["meta"] = meta
    ids = [part for value in _values(form, "ids") for part in re.split(r"[\s,]+", value)
           if part]
    if ids:
        selection["ids"] = ids
    if form.get("only_annotated"):
        selection["only_annotated"] = True
    if selection:
        request["selection"] = selection
    for key in ("map", "check", "options"):
        if pairs := _pairs(form, key):
            request[key] = pairs
    class_ids = _pairs(form, "class_ids")
    if class_ids:
        request["class_ids"] = {name: _whole(value, "class_ids")
                                for name, value in class_ids.items()}
    if drops := _values(form, "drop_class"):
        request["drop_class"] = drops
    min_box = _number(form, "min_box_px", float)
    if min_box is not None:
        request["min_box_px"] = min_box
    if split := _split(form):
        request["split"] = split
    frame_step = _number(form, "frame_step", int)
    if frame_step is not None:
        request["frame_step"] = frame_step
    if form.get("split_by_frame"):
        request["split_by_frame"] = True
    for key in TEXT_KEYS:
        if _text(form, key):
            request[key] = form.get(key) if key == "password" else _text(form, key)
    return request


def _whole(value: str, key: str) -> int:
    if not value.isdigit():
        raise InputError(f"`{key}`: {value!r} is not a whole number")
    return int(value)


def _split(form: FormData) -> dict[str, Any] | None:
    fractions = _text(form, "split")
    strategy = _text(form, "split_strategy") or "random"
    if not fractions and strategy in ("random", "stratified"):
        return None
    split: dict[str, Any] = {"fractions": fractions or None, "strategy": strategy,
                             "seed": _number(form, "split_seed", int) or 0}
    for key, field in (("split_field", "split_field"), ("group_by", "group_by")):
        if _text(form, field):
            split[key] = _text(form, field)
    return split


def field_of(message: str, fields: Sequence[str] = FIELDS) -> str | None:
    """The dialog field an error message names (```split```, ``option `format```...), so the
    page shows the message next to it."""
    for field in fields:
        if re.search(rf"(`|\b){re.escape(field)}(`|\b)", message):
            return field
    return None
