"""Reading Label Studio JSON_MIN (``labelstudio_min``): one flat row per annotation, as Label
Studio's converter and labelport's writer make them (layout in
`labelport.formats.labelstudio.tasks`).

JSON_MIN drops region ids, so each region value is one object (one row entry of a control:
a rectangle, polygon or brush with its ``*labels``), and a keypoint is an object of its own
(one point named by its label), since nothing ties it to the rectangle it hung from. Rows with
the same ``id`` are the annotations of one task (labelsets ``ground-truth``,
``ground-truth-2``...); ``annotator`` names the annotator. A per-region control's value (an
object attribute) goes to the row's one region of its class; when there are several, its
values go to them in order if there are as many (the converter keeps the results' order), else
the values are kept as item metadata under the control's name. With the config beside the file
(``label_config.xml``) every control is known; without it a control is a key holding regions
(``[{"x": ..., "rectanglelabels": [...]}]``) or several choices or texts (``{"choices":
[...]}``), and anything else (a plain string, Label Studio's way of writing a lone choice or
text; numbers) is task data, kept as item metadata. Each row becomes a Label Studio task, read
by the JSON reader."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labelport.domain.model import ProjectInfo
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.formats._shared.input_files import read_bytes
from labelport.formats._shared.json_input import decode_json, gc_paused
from labelport.formats.labelstudio._config import ParsedConfig
from labelport.formats.labelstudio._reader import open_reader, see_keypoint_names

_ROW_KEYS = frozenset({"id", "annotator", "annotation_id", "created_at", "updated_at",
                       "lead_time", "was_cancelled"})
_REGION_TYPES = ("rectanglelabels", "polygonlabels", "brushlabels", "keypointlabels")


def _region_type(value: dict[str, Any]) -> str | None:
    found = next((t for t in _REGION_TYPES if t in value), None)
    if found is None and "labels" in value:
        found = "polygon" if "points" in value else "brush" if "rle" in value else "rectangle"
        found += "labels"
    return found


def _is_regions(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, dict) and _region_type(v) for v in value)


class _Rows:
    """Turns rows into Label Studio tasks, checking each row's shape with its JSON path."""

    def __init__(self, file: Path, config: ParsedConfig | None) -> None:
        self.file = file
        self.config = config
        self.result_id = 0

    def fail(self, at: str, what: str) -> InputError:
        return InputError(f"{self.file}: at {at}: {what}")

    def _next_id(self) -> str:
        self.result_id += 1
        return f"min-{self.result_id}"

    def _is_control(self, key: str, value: Any) -> bool:
        if key in _ROW_KEYS:
            return False
        if _is_regions(value):
            return True
        if self.config is not None:
            return (key in self.config.classifications or key in self.config.attributes or
                    key in self.config.image_labels)
        return isinstance(value, dict) and ("choices" in value or "text" in value)

    def _answer_type(self, key: str, value: Any) -> str:
        if self.config is not None and key in self.config.attributes:
            return {"int": "number", "float": "number", "string": "textarea"}.get(
                self.config.attributes[key][1].type.value, "choices")
        if self.config is not None and key in self.config.image_labels:
            return "choices"
        if self.config is not None and key in self.config.classifications:
            return "choices" if key in self._choice_controls() else "textarea"
        return "choices" if isinstance(value, dict) and "choices" in value else "textarea"

    def _choice_controls(self) -> set[str]:
        assert self.config is not None
        text = {name for name, path in self.config.classifications.items()
                if self._question_kind(path) == "text"}
        return set(self.config.classifications) - text

    def _question_kind(self, path: tuple[str, ...]) -> str:
        assert self.config is not None
        defs = self.config.schema.classifications
        found = None
        for name in path:
            found = next((d for d in defs if d.name == name), None)
            if found is None:
                return "choices"
            defs = found.children
        return found.kind.value if found else "choices"

    def _answer(self, key: str, value: Any, at: str) -> dict[str, Any]:
        kind = self._answer_type(key, value)
        field = {"choices": "choices", "textarea": "text", "number": "number"}[kind]
        if isinstance(value, dict):
            payload = value.get(field)
        elif isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            payload = value[0].get(field)
        else:
            payload = value
        if field != "number" and not isinstance(payload, list):
            payload = [payload]
        if payload is None:
            raise self.fail(at, f"expected {field!r}")
        return {"type": kind, "from_name": key, "value": {field: payload}}

    def results(self, row: dict[str, Any], at: str
                ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The row's results, and the per-region values no region can be found for (kept as
        item metadata)."""
        regions: list[dict[str, Any]] = []
        per_region: list[tuple[str, Any]] = []
        out: list[dict[str, Any]] = []
        for key, value in row.items():
            if not self._is_control(key, value):
                continue
            where = f"{at}.{key}"
            if self.config is not None and key in self.config.attributes:
                per_region.append((key, value))
            elif _is_regions(value):
                regions += [self._region(key, v, f"{where}[{k}]") for k, v in enumerate(value)]
            else:
                out.append({"id": self._next_id(), **self._answer(key, value, where)})
        unplaced: dict[str, Any] = {}
        for key, value in per_region:
            assert self.config is not None
            owner = self.config.attributes[key][0]
            mine = [r for r in regions if owner in r["value"].get(r["type"], [])]
            values = value if isinstance(value, list) and len(mine) > 1 else [value]
            if len(values) != len(mine):
                unplaced[key] = value
                continue
            out += [{"id": r["id"], **self._answer(key, v, f"{at}.{key}")}
                    for r, v in zip(mine, values, strict=True)]
        return regions + out, unplaced

    def _region(self, key: str, value: dict[str, Any], at: str) -> dict[str, Any]:
        kind = _region_type(value)
        labels = value.get(kind or "")
        if kind is None or not isinstance(labels, list):
            raise self.fail(at, "expected a region value with its labels")
        payload = {k: v for k, v in value.items()
                   if k not in ("original_width", "original_height")}
        result: dict[str, Any] = {"id": self._next_id(), "type": kind, "from_name": key,
                                  "value": payload}
        for size in ("original_width", "original_height"):
            if size in value:
                result[size] = value[size]
        return result

    def task(self, rows: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
        first_at, first = rows[0]
        data = {k: v for k, v in first.items()
                if k not in _ROW_KEYS and not self._is_control(k, v)}
        annotations = []
        for i, row in rows:
            if row.get("annotation_id") is None and not row.get("was_cancelled"):
                continue
            results, unplaced = self.results(row, f"$[{i}]")
            data.update(unplaced)
            annotation: dict[str, Any] = {
                "id": row.get("annotation_id"), "result": results,
                "was_cancelled": bool(row.get("was_cancelled")),
                "created_at": row.get("created_at"), "updated_at": row.get("updated_at")}
            if isinstance(row.get("annotator"), str):
                annotation["completed_by"] = {"email": row["annotator"]}
            annotations.append(annotation)
        return {"id": first.get("id"), "data": data, "annotations": annotations}


def read_min(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read a Label Studio JSON_MIN export (see the module docstring); all or nothing."""
    reader = open_reader(path, options)
    file, config = reader.file, reader.config
    rows = _Rows(file, config)
    with gc_paused():
        doc = decode_json(read_bytes(file), file)
        if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
            raise InputError(f"{file}: at $: expected a list of JSON_MIN rows (objects)")
        by_task: dict[Any, list[tuple[int, dict[str, Any]]]] = {}
        for i, row in enumerate(doc):
            key = row.get("id")
            grouped = isinstance(key, int | str) and not isinstance(key, bool)
            by_task.setdefault(key if grouped else ("row", i), []).append((i, row))
        tasks = [(grouped[0][0], rows.task(grouped)) for grouped in by_task.values()]
        for _, task in tasks:
            see_keypoint_names(task, reader.seen)
        records = tuple(reader.task(task, f"$[{i}]") for i, task in tasks)
    return MemorySource(project=ProjectInfo(name=file.parent.name),
                        schema=reader.seen.extend(config.schema if config else LabelSchema()),
                        items=records, labelsets=reader.labelsets())
