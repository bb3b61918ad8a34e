"""The reader half of `labelstudio.tasks` (the layout, conventions and reading rules
are documented there). A whole file is validated before anything is returned: an import is all
or nothing, and errors name the file, the JSON path and what was expected."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec

from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Keypoint,
    Keypoints,
    NoGeometry,
    Polygon,
    PolygonPart,
    Visibility,
)
from labelport.domain.geometry_ops import with_own_box
from labelport.domain.model import (
    DEFAULT_DATASET,
    DEFAULT_LABELSET,
    Annotation,
    Item,
    ItemRecord,
    Labelset,
    ProjectInfo,
    Source,
    Task,
    TaskStatus,
)
from labelport.domain.schema import AttributeType, Classification, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.formats._shared.image_files import (
    image_size,
    is_url,
    local_reference,
    readable_file,
)
from labelport.formats._shared.input_files import read_bytes
from labelport.formats._shared.json_input import convert, decode_json, gc_paused
from labelport.formats.labelstudio._config import (
    ANNOTATORS,
    BOOL_CHOICES,
    CONFIG_FILE,
    IMAGE_LABELS,
    IMAGES_DIR,
    OCCLUDED,
    PREDICTIONS,
    RESULT_FILE,
    TASKS_DIR,
    ParsedConfig,
    parse_label_config,
)
from labelport.formats.labelstudio._inference import SchemaInference, typed_choice
from labelport.formats.labelstudio._references import local_files_path, reference_file_name
from labelport.formats.labelstudio._values import (
    brush_rle_to_mask,
    from_percent,
    rectangle_from_ls,
    ring_from_ls,
)

_DATA_KEYS = frozenset({"image", "dataset", "path", "width", "height", "split", "metadata"})
"""The task data keys labelport's writer fills; any other key is item metadata."""
_PERCENT_TOLERANCE_PX = 1e-6
"""How far a box may move through percentages and back and still be the same box."""


class _TaskJ(msgspec.Struct):
    data: dict[str, Any]
    id: int | str | None = None
    annotations: list[dict[str, Any]] = []
    predictions: list[dict[str, Any]] = []
    meta: dict[str, Any] | None = None


class _AnnotationJ(msgspec.Struct):
    result: list[dict[str, Any]] = []
    id: int | str | None = None
    completed_by: int | str | dict[str, Any] | None = None
    was_cancelled: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    model_version: str | None = None
    score: float | None = None


class _ResultJ(msgspec.Struct):
    type: str
    value: dict[str, Any]
    id: str | int | None = None
    from_name: str = ""
    original_width: int | None = None
    original_height: int | None = None
    parentID: str | int | None = None  # noqa: N815 (Label Studio's key)
    origin: str | None = None
    score: float | None = None
    meta: dict[str, Any] | None = None


class _RectJ(msgspec.Struct):
    x: float
    y: float
    width: float
    height: float
    rotation: float = 0.0


class _PointsJ(msgspec.Struct):
    points: list[tuple[float, float]]


class _PointJ(msgspec.Struct):
    x: float
    y: float


class _BrushJ(msgspec.Struct):
    rle: list[int]
    format: str = "rle"


_REGION_KINDS = {"rectangle": "rectangle", "rectanglelabels": "rectangle",
                 "polygon": "polygon", "polygonlabels": "polygon",
                 "brush": "brush", "brushlabels": "brush",
                 "keypoint": "keypoint", "keypointlabels": "keypoint"}
_ANSWER_KINDS = frozenset({"choices", "textarea", "number"})


@dataclass(frozen=True, slots=True, kw_only=True)
class _Common:
    """What every object of one Label Studio annotation or prediction shares."""

    labelset: str
    annotator: str | None
    source: Source


@dataclass(slots=True)
class _Region:
    at: str
    result: _ResultJ | None = None
    labels: list[str] = field(default_factory=list)
    attributes: list[tuple[str, _ResultJ]] = field(default_factory=list)


def _meta_annotator(meta: dict[str, Any] | None, index: int) -> str | None:
    """The annotator labelport wrote in the task's meta for its ``index``-th annotation."""
    names = (meta or {}).get(ANNOTATORS)
    found = names[index] if isinstance(names, list) and index < len(names) else None
    return found if isinstance(found, str) and found else None


def _completed_by(value: int | str | dict[str, Any] | None) -> str | None:
    if isinstance(value, dict):
        found = value.get("email") or value.get("id")
        return None if found is None else str(found)
    return None if value is None else str(value)


@dataclass(slots=True)
class Reader:
    file: Path
    media_root: Path | None
    config: ParsedConfig | None
    files: list[Path] = field(default_factory=list)
    """Every file of the export (one, or one per task); ``file`` is the one being read."""
    seen: SchemaInference = field(default_factory=SchemaInference)
    labelsets_seen: dict[str, None] = field(default_factory=dict)

    def fail(self, at: str, what: str) -> InputError:
        return InputError(f"{self.file}: at {at}: {what}")

    def labelsets(self) -> tuple[Labelset, ...]:
        """The labelsets of the tasks read so far, in the order first seen."""
        return tuple(Labelset(name=n) for n in self.labelsets_seen)

    def task(self, raw: Any, at: str) -> ItemRecord:
        task = convert(raw, _TaskJ, self.file, at=at)
        item = self._item(task, at)
        tasks: list[Task] = []
        annotations: list[Annotation] = []
        for key, entries, base in (("annotations", task.annotations, DEFAULT_LABELSET),
                                   ("predictions", task.predictions, PREDICTIONS)):
            for i, raw_annotation in enumerate(entries):
                where = f"{at}.{key}[{i}]"
                entry = convert(raw_annotation, _AnnotationJ, self.file, at=where)
                labelset = base if i == 0 else f"{base}-{i + 1}"
                self.labelsets_seen[labelset] = None
                model = key == "predictions"
                who = entry.model_version if model else (
                    _meta_annotator(task.meta, i) or _completed_by(entry.completed_by))
                objects, answers = self._results(entry, item, labelset=labelset, model=model,
                                                 annotator=who, at=where)
                tasks.append(Task(
                    labelset=labelset, assignee=who, classifications=answers,
                    status=TaskStatus.SKIPPED if entry.was_cancelled else TaskStatus.LABELED,
                    created_at=entry.created_at, updated_at=entry.updated_at))
                annotations += objects
        if not task.annotations:
            self.labelsets_seen[DEFAULT_LABELSET] = None
            tasks.insert(0, Task(status=TaskStatus.NEW))
        split = task.data.get("split")
        return ItemRecord(item=item, tasks=tuple(tasks), annotations=tuple(annotations),
                          split=split if isinstance(split, str) else None)

    def _item(self, task: _TaskJ, at: str) -> Item:
        data = task.data
        key = (self.config.image_key if self.config else None) or "image"
        if key not in data:  # no config: the first text value names the image
            key = next((k for k, v in data.items() if isinstance(v, str)), key)
        reference = data.get(key)
        if not isinstance(reference, str) or not reference:
            raise self.fail(f"{at}.data.{key}", "expected the image's path or URL")
        path = data.get("path")
        if not isinstance(path, str) or not path:
            path = reference_file_name(reference)
        found = self._find(reference, path)
        width, height = data.get("width"), data.get("height")
        if not (isinstance(width, int) and isinstance(height, int)):
            width, height = self._size(task, found, at)
        metadata = {k: v for k, v in data.items() if k not in _DATA_KEYS and k != key}
        if isinstance(data.get("metadata"), dict):
            metadata.update(data["metadata"])
        dataset = data.get("dataset")
        media_uri = str(found.absolute()) if found else (reference if is_url(reference)
                                                           else None)
        return Item(dataset=dataset if isinstance(dataset, str) and dataset else DEFAULT_DATASET,
                    path=path, width=width, height=height, media_uri=media_uri,
                    metadata=metadata)

    def _find(self, reference: str, path: str) -> Path | None:
        local = local_reference(reference)
        if local is not None and readable_file(local):
            return local
        if is_url(reference) or self.media_root is None:
            return None
        name = reference_file_name(reference)
        candidates = [self.media_root / reference, self.media_root / IMAGES_DIR / name,
                      self.media_root / name, self.media_root / path]
        under_root = local_files_path(reference)
        if under_root is not None and ".." not in PurePosixPath(under_root).parts:
            # the folder read may be Label Studio's document root itself
            candidates.insert(0, self.media_root / under_root.lstrip("/"))
        return next((c for c in candidates if readable_file(c)), None)

    def _size(self, task: _TaskJ, found: Path | None, at: str) -> tuple[int, int]:
        for entry in (*task.annotations, *task.predictions):
            for result in _list(entry.get("result")):
                if isinstance(result, dict) and isinstance(result.get("original_width"), int) \
                        and isinstance(result.get("original_height"), int):
                    return result["original_width"], result["original_height"]
        if found is not None:
            return image_size(found)
        raise self.fail(f"{at}.data", "no image size: neither the task nor its results give "
                        "one, and no image file was found to read it from; pass --images DIR")

    def _results(self, entry: _AnnotationJ, item: Item, *, labelset: str, model: bool,
                 annotator: str | None, at: str
                 ) -> tuple[list[Annotation], tuple[Classification, ...]]:
        regions: dict[str, _Region] = {}
        answers: list[tuple[str, _ResultJ]] = []
        image_labels: list[tuple[str, _ResultJ]] = []  # (JSON path, result)
        parsed = [(f"{at}.result[{k}]", convert(r, _ResultJ, self.file, at=f"{at}.result[{k}]"))
                  for k, r in enumerate(entry.result)]
        for where, r in parsed:
            kind = r.type.lower()
            if kind in _REGION_KINDS or kind == "labels":
                region = regions.setdefault(str(r.id), _Region(at=where))
                if kind in _REGION_KINDS:
                    region.result, region.at = r, where
                names = r.value.get(kind if kind.endswith("labels") else "labels", [])
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise self.fail(f"{where}.value", "expected a list of label names")
                region.labels += [n for n in names if n not in region.labels]
            elif kind not in _ANSWER_KINDS:
                raise self.fail(f"{where}.type", f"result type {r.type!r} is not supported; "
                                "expected a rectangle, polygon, brush, keypoint, labels, "
                                "choices, textarea or number result")
        for where, r in parsed:
            kind = r.type.lower()
            if kind not in _ANSWER_KINDS:
                continue
            if self._is_image_labels(r):
                image_labels.append((where, r))
            elif str(r.id) in regions and r.id is not None:
                regions[str(r.id)].attributes.append((where, r))
            else:
                answers.append((where, r))
        common = _Common(labelset=labelset, annotator=annotator,
                         source=Source.MODEL if model else Source.HUMAN)
        objects = self._objects(regions, item, entry, common)
        for where, r in image_labels:
            for label in _strings(r.value.get("choices"), f"{where}.value.choices", self):
                self._saw(label, GeometryKind.NONE)
                objects.append(Annotation(label=label, geometry=NoGeometry(),
                                          labelset=labelset, annotator=annotator,
                                          source=common.source))
        return objects, self._answers(answers)

    def _is_image_labels(self, r: _ResultJ) -> bool:
        if self.config is not None:
            return r.from_name in self.config.image_labels
        return r.from_name == IMAGE_LABELS

    def _saw(self, label: str, kind: GeometryKind) -> None:
        self.seen.saw_class(label, kind)

    def _objects(self, regions: dict[str, _Region], item: Item, entry: _AnnotationJ,
                 common: _Common) -> list[Annotation]:
        children: dict[str, list[_Region]] = {}
        for region in regions.values():
            r = region.result
            if r is not None and r.parentID is not None and str(r.parentID) in regions:
                children.setdefault(str(r.parentID), []).append(region)
        out: list[Annotation] = []
        for region_id, region in regions.items():
            r = region.result
            if r is None:
                raise self.fail(region.at, f"region {region_id!r} has labels but no shape")
            if r.parentID is not None and str(r.parentID) in regions:
                continue  # a keypoint or a polygon part: taken with its parent
            if not region.labels:
                raise self.fail(f"{region.at}.value", "expected a label for the region")
            image_wh = (r.original_width or item.width, r.original_height or item.height)
            try:
                geometry = self._geometry(region, children.get(region_id, []),
                                          image_wh=image_wh)
            except ValueError as exc:
                raise self.fail(region.at, str(exc)) from None
            score = r.score if r.score is not None else entry.score
            source = Source.MODEL if r.origin == "prediction" else common.source
            attributes = self._attributes(region)
            for label in region.labels:
                self._saw(label, geometry.kind)
                out.append(Annotation(label=label, geometry=geometry,
                                      attributes=attributes, score=score,
                                      labelset=common.labelset,
                                      annotator=common.annotator, source=source))
        return out

    def _geometry(self, region: _Region, children: list[_Region], *,
                  image_wh: tuple[int, int]) -> Geometry:
        r = region.result
        assert r is not None  # checked by the caller
        kind = _REGION_KINDS[r.type.lower()]
        if kind == "rectangle":
            rectangle = rectangle_from_ls(msgspec.structs.asdict(
                convert(r.value, _RectJ, self.file, at=f"{region.at}.value")),
                image_wh=image_wh)
            points = [c for c in children if c.result and
                      _REGION_KINDS[c.result.type.lower()] == "keypoint"]
            if points or self._is_keypoint_class(region.labels):
                keypoints = self._keypoints(region.labels, points, image_wh=image_wh)
                own = rectangle if isinstance(rectangle, Box) else None
                return with_own_box(keypoints, own, tolerance_px=_PERCENT_TOLERANCE_PX)
            return rectangle
        if kind == "polygon":
            parts = [region, *(c for c in children if c.result and
                               _REGION_KINDS[c.result.type.lower()] == "polygon")]
            rings = []
            for part in parts:
                assert part.result is not None
                value = convert(part.result.value, _PointsJ, self.file, at=f"{part.at}.value")
                rings.append(PolygonPart(outer=ring_from_ls(value.points, image_wh=image_wh)))
            return Polygon(parts=tuple(rings))
        if kind == "brush":
            brush = convert(r.value, _BrushJ, self.file, at=f"{region.at}.value")
            if brush.format != "rle":
                raise ValueError(f"brush format {brush.format!r} is not supported; expected "
                                 "'rle'")
            width, height = image_wh
            return brush_rle_to_mask(brush.rle, height=height, width=width)
        return self._keypoints(region.labels, [region], image_wh=image_wh, owner=False)

    def _is_keypoint_class(self, labels: list[str]) -> bool:
        schema = self.config.schema if self.config else None
        found = schema.get(labels[0]) if schema and labels else None
        if found is None:  # no config: a class whose points the file labels elsewhere
            return bool(labels) and labels[0] in self.seen.keypoint_names
        return found.geometry is GeometryKind.KEYPOINTS

    def _keypoints(self, labels: list[str], points: list[_Region], *,
                   image_wh: tuple[int, int], owner: bool = True) -> Keypoints:
        """Points hanging from an owner rectangle, in the order of the class's keypoint names
        (from the config; else as first seen in the file), missing names as not labelled. A
        point without owner is an object of its own, named by its label."""
        width, height = image_wh
        by_name: dict[str, Keypoint] = {}
        for p in points:
            assert p.result is not None
            value = convert(p.result.value, _PointJ, self.file, at=f"{p.at}.value")
            occluded = OCCLUDED in ((p.result.meta or {}).get("text") or [])
            for name in p.labels or [""]:
                by_name[name] = Keypoint(x=from_percent(value.x, width),
                                         y=from_percent(value.y, height),
                                         v=Visibility.OCCLUDED if occluded else
                                         Visibility.VISIBLE)
        schema = self.config.schema if self.config else None
        found = schema.get(labels[0]) if owner and schema and labels else None
        names = list(found.keypoint_names) if found and found.keypoint_names else []
        if owner and labels:  # the names first seen in the file (`keypoint_names`)
            names += [n for n in self.seen.keypoint_names.get(labels[0], ()) if n not in names]
        names += [n for n in by_name if n not in names]
        return Keypoints(points=tuple(by_name.get(n, Keypoint(x=0, y=0,
                                                               v=Visibility.NOT_LABELED))
                                      for n in names))

    def _attributes(self, region: _Region) -> dict[str, Any]:
        out: dict[str, Any] = {}
        label = region.labels[0] if region.labels else ""
        for where, r in region.attributes:
            known = self.config.attributes.get(r.from_name) if self.config else None
            name = known[1].name if known else r.from_name.removeprefix(f"{label}: ")
            value = _answer_value(r, where, self)
            if known is None:
                value = typed_choice(value) if r.type.lower() == "choices" else value
                self.seen.saw_attribute(label, name, r.type.lower(), value)
            elif known[1].type is AttributeType.BOOL and value in BOOL_CHOICES:
                value = value == BOOL_CHOICES[0]
            elif known and known[1].type is AttributeType.INT and isinstance(value, float) \
                    and value.is_integer():
                value = int(value)
            out[name] = value
        return out

    def _answers(self, answers: list[tuple[str, _ResultJ]]) -> tuple[Classification, ...]:
        """Answers nested as the config's questions are (flat without a config)."""
        paths = self.config.classifications if self.config else {}
        values: dict[tuple[str, ...], tuple[str, ...]] = {}
        for where, r in answers:
            key = "choices" if r.type.lower() == "choices" else "text"
            value = _strings(r.value.get(key), f"{where}.value.{key}", self)
            values[paths.get(r.from_name, (r.from_name,))] = tuple(value)
            if r.from_name not in paths:
                self.seen.saw_answer(r.from_name, r.type.lower(), value)

        def build(path: tuple[str, ...]) -> tuple[Classification, ...]:
            return tuple(Classification(name=p[-1], values=v, children=build(p))
                         for p, v in values.items() if p[:-1] == path)

        return build(())


def see_keypoint_names(task: Any, seen: SchemaInference) -> None:
    """Note the keypoint names of each class in the order the file labels them, before reading
    it, so every object of a class gets the same slots (the checks come with the reading)."""
    entries = [e for key in ("annotations", "predictions")
               for e in _list(task.get(key) if isinstance(task, dict) else None)]
    for entry in entries:
        results = [r for r in _list(entry.get("result") if isinstance(entry, dict) else None)
                   if isinstance(r, dict) and isinstance(r.get("value"), dict)]
        owners: dict[str, str] = {}
        for r in results:
            labels = r["value"].get("rectanglelabels") or r["value"].get("labels")
            if isinstance(labels, list) and labels and isinstance(labels[0], str):
                owners.setdefault(str(r.get("id")), labels[0])
        for r in results:
            owner = owners.get(str(r.get("parentID")))
            names = r["value"].get("keypointlabels")
            if owner is not None and isinstance(names, list):
                for name in names:
                    if isinstance(name, str):
                        seen.saw_keypoint(owner, name)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any, where: str, reader: Reader) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise reader.fail(where, "expected a list of strings")
    return value


def _answer_value(r: _ResultJ, where: str, reader: Reader) -> Any:
    kind = r.type.lower()
    key = {"choices": "choices", "textarea": "text", "number": "number"}[kind]
    if key not in r.value:
        raise reader.fail(f"{where}.value", f"expected {key!r}")
    value = r.value[key]
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _task_order(file: Path) -> tuple[int, str]:
    return (int(file.stem), "") if file.stem.isdigit() else (1 << 62, file.name)


def task_files(path: Path) -> list[Path]:
    """The JSON files of an export: ``path`` itself, the folder's ``result.json``, its
    ``tasks/*.json`` (option ``files=per_task``; in task id order), or its one JSON file."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    if (path / RESULT_FILE).is_file():
        return [path / RESULT_FILE]
    per_task = sorted((path / TASKS_DIR).glob("*.json"), key=_task_order)
    if per_task:
        return per_task
    found = sorted(path.glob("*.json"))
    if len(found) != 1:
        raise InputError(f"{path}: expected {RESULT_FILE}, {TASKS_DIR}/*.json or one Label Studio "
                         f"JSON file; found {len(found)} JSON files")
    return found


def open_reader(path: Path, options: Mapping[str, Any]) -> Reader:
    """A reader of the file ``path`` names, with the config beside it when there is one."""
    files = task_files(Path(path))
    file = files[0]
    folder = Path(path) if file.parent.name == TASKS_DIR and Path(path).is_dir() else file.parent
    config_file = folder / CONFIG_FILE
    config = parse_label_config(config_file) if config_file.is_file() else None
    images = options.get("images")
    return Reader(file=file, media_root=Path(images) if images else folder, config=config,
                  files=files)


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read a Label Studio JSON export (see the module docstring); all or nothing."""
    reader = open_reader(path, options)
    config = reader.config
    with gc_paused():
        loaded: list[tuple[Path, Any, list[Any]]] = []
        for file in reader.files:
            doc = decode_json(read_bytes(file), file)
            tasks = [doc] if isinstance(doc, dict) else doc
            if not isinstance(tasks, list):
                raise InputError(f"{file}: at $: expected a list of Label Studio tasks")
            loaded.append((file, doc, tasks))
            for raw in tasks:
                see_keypoint_names(raw, reader.seen)
        records: list[ItemRecord] = []
        for file, doc, tasks in loaded:
            reader.file = file
            records += (reader.task(raw, f"$[{i}]" if doc is tasks else "$")
                        for i, raw in enumerate(tasks))
    schema = reader.seen.extend(config.schema if config else LabelSchema())
    name = (Path(path) if Path(path).is_dir() else Path(path).parent).name
    return MemorySource(project=ProjectInfo(name=name), schema=schema,
                        items=tuple(records), labelsets=reader.labelsets())
