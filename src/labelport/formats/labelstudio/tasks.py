"""Label Studio JSON and JSON_MIN: ``labelstudio`` and ``labelstudio_min``.

Layout (``images/`` only when media is copied or linked)::

    result.json          a list of tasks, one per line (option files=per_task: tasks/{id}.json,
                         one task each, as Label Studio writes them to a cloud storage)
    label_config.xml     the labeling config of the project's schema
    images/street_001.png

``labelstudio``: each task is ``{"id", "data", "annotations", "predictions"}``. ``data`` holds
``image`` (the image's name inside ``images/``, or what `WriteContext.media_reference` gives
with ``--paths absolute``; under option ``image_root`` a reference Label Studio resolves, see
`labelstudio._references`), the item's ``dataset``, ``path``, ``width``, ``height``, ``split``
and, when it has any, its ``metadata``. Each labelset of the item becomes one Label Studio
annotation (``id``, ``result``, ``was_cancelled`` for a
skipped task, ``created_at``/``updated_at`` of the task, ``lead_time`` = the sum of its objects'
lead times), except a model's labelset (named ``predictions``, or any other non-default labelset
whose objects all come from a model), which becomes a prediction (``model_version`` = the
task's assignee, ``score`` = the mean of its objects' scores). A task never started (status
``new``, nothing labelled) has no annotation. The annotator (the task's assignee, else its first
object's) goes to the task's ``meta`` (``{"annotators": [...]}``, one per annotation; option
``annotators=meta``, the default: Label Studio refuses a ``completed_by`` e-mail that is not one
of its users, and keeps ``meta`` as is) or to ``completed_by: {"email": ...}``
(``annotators=email``).

Results, as Label Studio writes them (``from_name``/``to_name`` match ``label_config.xml``,
``original_width``/``original_height`` in pixels, ``image_rotation: 0``; a model's object has
``origin: "prediction"`` and its ``score``):

- coordinates are percentages (0-100) of the original width (x, widths) and height (y,
  heights), floats, not rounded; every conversion happens in pixels first;
- a box is ``rectanglelabels`` with ``x, y`` its top-left corner, ``rotation: 0``; a rotated box
  is a rectangle anchored at the corner that is top-left before rotation, turned clockwise by
  ``rotation`` degrees in ``[0, 360)`` about that corner (labelport's boxes turn about their
  centre: the anchor is that corner of the turned box);
- a polygon is ``polygonlabels`` with ``points`` ``[[x, y], ...]``. Label Studio polygons have
  no holes and one ring: an object in several parts gives one region per part, the parts after
  the first carrying ``parentID`` = the first part's id; a polygon with holes is written as a
  brush mask (option ``holes``: ``brush``, the default, or ``drop`` to write outer rings only);
- a mask is ``brushlabels`` with ``format: "rle"`` and Label Studio's own RLE (see
  `labelport.formats._labelstudio_rle`; not COCO's);
- keypoints are one rectangle region of the class around the labelled points, and one
  ``keypointlabels`` result per labelled point (its label is the keypoint's name) with
  ``parentID`` = the rectangle's id; an occluded point carries ``meta: {"text": ["occluded"]}``;
  points not labelled are not written;
- image-level classes are one ``choices`` result of the ``image_labels`` control; image
  classifications are ``choices`` (radio, select, checkbox) or ``textarea`` (text) results of
  the control named after them, nested ones shown by ``visibleWhen="choice-selected"``;
- object attributes are per-region results sharing the region's id, from the control
  ``"{class}: {attribute}"``: ``choices`` for select and bool (``"true"``/``"false"``),
  ``number`` for int and float, ``textarea`` for strings.

Ids: tasks from 1 in export order; annotations and predictions from 1 across the file; result
ids ``"{task}-{n}"``, unique in the task. ``label_config.xml`` offers each class with the tool of
its geometry (plus any tool it was written with), its colour as ``background`` and its index in
the schema as ``model_index``; keypoint classes add a ``KeyPointLabels`` control named
``"{class} keypoints"`` whose labels are the keypoint names with ``model_index`` = their index.

Not carried, counted in the report: polylines (Label Studio has no polyline tool), task statuses
other than new/labelled/skipped, reviewers, per-object tags, instance ids, z-order, crowd flags,
frames, times and annotators other than the task's, attributes the schema does not define.

``labelstudio_min`` is JSON_MIN as Label Studio's converter writes it (one object per annotation,
per task when it has none): the task's ``data`` fields, ``id``, one key per control holding its
values (a lone choice or text as a plain string), ``annotator``, ``annotation_id``,
``created_at``, ``updated_at``, ``lead_time``; a task whose only annotation was skipped keeps a
record with ``"was_cancelled": true`` (Label Studio's converter leaves it out); the skipped
annotations left out are counted in the report. JSON_MIN drops
region ids: its reader (`labelstudio._min_reader`) makes one object per region.

Reading ``labelstudio`` (`labelport.formats.labelstudio._reader`; a JSON file or a folder holding
one): the config beside the file gives the schema (classes in ``model_index`` order, colours,
keypoint names, attributes, nested classifications); without it the schema is inferred from
the results (`labelstudio._inference`: keypoint names in the order first seen, typed attribute
values, classifications). The
first annotation of a task becomes labelset ``ground-truth``, the next ``ground-truth-2``...;
predictions become ``predictions``, ``predictions-2``...; ``was_cancelled`` gives status
``skipped``, another annotation ``labeled``, no annotation ``new``. Results sharing an id form one
object (a ``rectangle``/``polygon``/... region with a ``labels`` result, per-region attributes);
a rotation other than 0 gives a rotated box. Media: ``data.image`` is looked up under
``options["images"]`` (else beside the JSON) to set ``media_uri`` and, when neither the task nor
its results give one, the size.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from labelport.domain.geometry import (
    Box,
    GeometryKind,
    Keypoints,
    Mask,
    NoGeometry,
    Polygon,
    Polyline,
    RotatedBox,
    Visibility,
)
from labelport.domain.geometry_ops import bounding_box
from labelport.domain.masks import polygon_to_rle
from labelport.domain.model import (
    DEFAULT_LABELSET,
    Annotation,
    Item,
    ItemRecord,
    Source,
    Task,
    TaskStatus,
)
from labelport.domain.schema import (
    AttributeDef,
    AttributeType,
    Classification,
    ClassificationDef,
    ClassificationKind,
    LabelSchema,
)
from labelport.domain.source import ExportSource
from labelport.formats._shared.geometry import count_unwritten_shape, fit_to_image
from labelport.formats._shared.naming import FileNamer
from labelport.formats.base import Conventions, FormatSpec, OptionSpec, WriteContext
from labelport.formats.labelstudio._config import (
    ANNOTATORS,
    BOOL_CHOICES,
    BRUSH,
    CONFIG_FILE,
    IMAGE,
    IMAGE_LABELS,
    IMAGES_DIR,
    OCCLUDED,
    POLYGON,
    PREDICTIONS,
    RECTANGLE,
    RESULT_FILE,
    TASKS_DIR,
    TOOL_OF_KIND,
    ControlNames,
    label_config_xml,
)
from labelport.formats.labelstudio._merge import CANCELLED, merge_min_shards, merge_shards
from labelport.formats.labelstudio._min_reader import read_min
from labelport.formats.labelstudio._reader import read
from labelport.formats.labelstudio._references import check_image_root, image_reference
from labelport.formats.labelstudio._values import (
    Json,
    box_to_ls,
    mask_to_brush_rle,
    ring_to_ls,
    rotated_box_to_ls,
    to_percent,
)

DEFAULT_SPLIT = "train"
KEYPOINT_RADIUS_PX = 3.0
"""The drawn size of a written keypoint (Label Studio's ``width`` of a point)."""
_PROGRESS_EVERY = 256
_WRITTEN_STATUSES = frozenset({TaskStatus.NEW, TaskStatus.LABELED, TaskStatus.SKIPPED})

# --- writing ------------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(slots=True)
class _TaskWriter:
    """Turns records into Label Studio tasks; remembers which tool offered which class, for
    the config written at the end."""

    schema: LabelSchema
    ctx: WriteContext
    holes_as_brush: bool
    annotators_in_meta: bool
    image_root: str
    predictions: bool
    """False for JSON_MIN, which has no predictions: their objects are counted, not written."""
    """`check_image_root`'s form of the option, or empty: the layout's own references."""
    names: ControlNames = field(init=False)
    questions: dict[tuple[str, ...], ClassificationDef] = field(init=False)
    tools: dict[str, set[str]] = field(default_factory=dict)
    namer: FileNamer = field(init=False)
    """Images keep their folders under ``images/`` (renamings go to the manifest)."""
    task_id: int = 0
    annotation_id: int = 0
    prediction_id: int = 0
    result_id: int = 0

    def __post_init__(self) -> None:
        self.names = ControlNames.of(self.schema)
        self.questions = {}
        self.namer = FileNamer(keep_folders=True, report=self.ctx.report)

        def walk(defs: tuple[ClassificationDef, ...], path: tuple[str, ...]) -> None:
            for d in defs:
                self.questions[(*path, d.name)] = d
                walk(d.children, (*path, d.name))

        walk(self.schema.classifications, ())
        for c in self.schema.classes:
            tool = IMAGE_LABELS if c.geometry is GeometryKind.NONE else TOOL_OF_KIND.get(
                c.geometry)
            if tool is not None:
                self.tools.setdefault(tool, set()).add(c.name)

    def config(self) -> str:
        """The label config; what it cannot say about the schema is counted."""
        offered = set().union(*self.tools.values()) if self.tools else set()
        for c in self.schema.classes:
            if c.name not in offered:
                self.ctx.report.count(f"not written: class with no Label Studio tool "
                                      f"({c.geometry.value})")
            if c.parent is not None:
                self.ctx.report.count("not written: class parent (Label Studio has none)")
            if c.skeleton or c.flip_pairs:
                self.ctx.report.count("not written: keypoint skeleton and flip pairs")
        order = {name: i for i, name in enumerate(self.schema.class_names)}
        tools = {tool: sorted(labels, key=lambda n: order.get(n, len(order)))
                 for tool, labels in self.tools.items()}
        return label_config_xml(self.schema, tools, ctx=self.ctx)

    def _next_id(self) -> str:
        self.result_id += 1
        return f"{self.task_id}-{self.result_id}"

    def task(self, record: ItemRecord, out_dir: Path) -> Json:
        self.task_id += 1
        self.result_id = 0
        item = record.item
        split = record.split or DEFAULT_SPLIT
        name = self.namer.name(item, IMAGES_DIR)
        target = out_dir / IMAGES_DIR / name
        self.ctx.place_media(item, target)
        relative = f"{IMAGES_DIR}/{name}"
        data: Json = {"image": image_reference(self.image_root, relative,
                                               file_name=item.file_name) if self.image_root
                      else self.ctx.media_reference(item, target, relative),
                      "dataset": item.dataset, "path": item.path, "width": item.width,
                      "height": item.height, "split": split}
        if item.metadata:
            data["metadata"] = dict(item.metadata)
        annotations: list[Json] = []
        annotators: list[str | None] = []
        predictions: list[Json] = []
        for labelset, task, objects in _labelsets(record):
            if _is_prediction(labelset, objects) and not self.predictions:
                self.ctx.report.count("not written: annotation of another labelset (JSON_MIN "
                                      "has no predictions)", len(objects))
            elif _is_prediction(labelset, objects):
                predictions.append(self._prediction(task, objects, item))
            elif task is None or task.status is not TaskStatus.NEW or objects or \
                    task.classifications:
                annotations.append(self._annotation(task, objects, item))
                annotators.append(_annotator(task, objects))
        out: Json = {"id": self.task_id, "data": data, "annotations": annotations,
                     "predictions": predictions}
        if self.annotators_in_meta and any(annotators):
            out["meta"] = {ANNOTATORS: annotators}
        return out

    def _annotation(self, task: Task | None, objects: list[Annotation], item: Item) -> Json:
        self.annotation_id += 1
        task = task or Task()
        if task.status not in _WRITTEN_STATUSES:
            self.ctx.report.count(f"converted: task status {task.status.value} to labeled "
                                  "(Label Studio has no statuses)")
        if task.reviewer is not None:
            self.ctx.report.count("not written: task reviewer")
        annotator = _annotator(task, objects)
        lead_times = [a.lead_time_s for a in objects if a.lead_time_s is not None]
        out: Json = {"id": self.annotation_id}
        if annotator is not None and not self.annotators_in_meta:
            out["completed_by"] = {"email": annotator}
        out.update({
            "result": self._results(objects, task.classifications, item, annotator),
            "was_cancelled": task.status is TaskStatus.SKIPPED, "ground_truth": False,
            "created_at": _iso(task.created_at), "updated_at": _iso(task.updated_at),
            "lead_time": sum(lead_times) if lead_times else None})
        if len(lead_times) > 1:
            self.ctx.report.count("converted: object lead times summed into the annotation's")
        return out

    def _prediction(self, task: Task | None, objects: list[Annotation], item: Item) -> Json:
        self.prediction_id += 1
        task = task or Task(labelset=PREDICTIONS)
        model = task.assignee or next((a.annotator for a in objects if a.annotator),
                                      task.labelset)
        scores = [a.score for a in objects if a.score is not None]
        out: Json = {"id": self.prediction_id, "model_version": model}
        if scores:
            out["score"] = sum(scores) / len(scores)
        out["result"] = self._results(objects, task.classifications, item, model)
        out["created_at"] = _iso(task.created_at or next(
            (a.created_at for a in objects if a.created_at), None))
        return out

    def _results(self, objects: list[Annotation], answers: tuple[Classification, ...],
                 item: Item, annotator: str | None) -> list[Json]:
        image_wh = (item.width, item.height)
        results: list[Json] = []
        image_labels: list[str] = []
        for a in objects:
            if self.schema.get(a.label) is None:
                self.ctx.report.count("not written: annotation whose class is not in the schema")
                continue
            if isinstance(a.geometry, NoGeometry):
                image_labels.append(a.label)
                self._count_dropped(a, annotator)
                continue
            regions = self._regions(a, image_wh=image_wh)
            if not regions:
                continue
            self._count_dropped(a, annotator)
            results += regions
            results += self._attributes(a, regions[0]["id"])
        if image_labels:
            self.tools.setdefault(IMAGE_LABELS, set()).update(image_labels)
            results.append({"id": self._next_id(), "type": "choices", "from_name": IMAGE_LABELS,
                            "to_name": IMAGE, "value": {"choices": image_labels}})
        results += self._answers(answers, ())
        return results

    def _count_dropped(self, a: Annotation, annotator: str | None) -> None:
        report = self.ctx.report
        for name, dropped in (("tags", bool(a.tags)), ("instance_id", a.instance_id is not None),
                              ("z_order", a.z_order != 0), ("crowd", a.crowd),
                              ("frame", a.frame is not None),
                              ("times", a.created_at is not None or a.updated_at is not None),
                              ("annotator", a.annotator not in (None, annotator))):
            if dropped:
                report.count(f"not written: annotation {name}")

    def _result(self, a: Annotation, kind: str, tool: str, value: Json, *,
                image_wh: tuple[int, int], region_id: str | None = None) -> Json:
        if tool in (RECTANGLE, POLYGON, BRUSH):
            self.tools.setdefault(tool, set()).add(a.label)
        out: Json = {"id": region_id or self._next_id(), "type": kind, "from_name": tool,
                     "to_name": IMAGE, "original_width": image_wh[0],
                     "original_height": image_wh[1], "image_rotation": 0, "value": value,
                     "origin": "prediction" if a.source is Source.MODEL else "manual"}
        if a.score is not None:
            out["score"] = a.score
        return out

    def _brush(self, a: Annotation, mask: Mask, *, image_wh: tuple[int, int]) -> Json:
        return self._result(a, "brushlabels", BRUSH, {
            "format": "rle", "rle": mask_to_brush_rle(mask), "brushlabels": [a.label]},
            image_wh=image_wh)

    def _regions(self, a: Annotation, *, image_wh: tuple[int, int]) -> list[Json]:
        """The results of one object's geometry, the main region first (empty when nothing can
        be written, counted)."""
        report = self.ctx.report
        geometry = a.geometry
        if isinstance(geometry, Polyline):
            report.count("not written: polyline (Label Studio has no polyline tool)")
            return []
        if isinstance(geometry, Mask) and (geometry.width, geometry.height) != image_wh:
            report.count("not written: mask whose size differs from its image")
            return []
        fitted = fit_to_image(geometry, image_wh=image_wh, ctx=self.ctx)
        match fitted:
            case None:
                return []
            case Box():
                return [self._result(a, "rectanglelabels", RECTANGLE, {
                    **box_to_ls(fitted, image_wh=image_wh), "rectanglelabels": [a.label]},
                    image_wh=image_wh)]
            case RotatedBox():
                return [self._result(a, "rectanglelabels", RECTANGLE, {
                    **rotated_box_to_ls(fitted, image_wh=image_wh),
                    "rectanglelabels": [a.label]}, image_wh=image_wh)]
            case Polygon():
                return self._polygon(a, fitted, image_wh=image_wh)
            case Mask():
                return [self._brush(a, fitted, image_wh=image_wh)]
            case Keypoints():
                return self._keypoints(a, fitted, image_wh=image_wh)
        raise TypeError(f"unexpected geometry {fitted!r}")

    def _polygon(self, a: Annotation, polygon: Polygon, *, image_wh: tuple[int, int]
                 ) -> list[Json]:
        report = self.ctx.report
        parts = [p for p in polygon.parts if len(p.outer) >= 6]
        if len(parts) < len(polygon.parts):
            report.count("dropped: polygon part with fewer than 3 points",
                         len(polygon.parts) - len(parts))
        if not parts:
            report.count("not written: polygon with fewer than 3 points")
            return []
        if any(p.holes for p in parts):
            if self.holes_as_brush:
                report.count("converted: polygon with holes to a brush mask")
                width, height = image_wh
                mask = polygon_to_rle(Polygon(parts=tuple(parts)), height=height, width=width)
                return [self._brush(a, mask, image_wh=image_wh)]
            report.count("dropped: polygon holes (holes=drop)", sum(len(p.holes) for p in parts))
        if len(parts) > 1:
            report.count("converted: multi-part polygon to one region per part")
        out: list[Json] = []
        for part in parts:
            result = self._result(a, "polygonlabels", POLYGON, {
                "points": ring_to_ls(part.outer, image_wh=image_wh), "closed": True,
                "polygonlabels": [a.label]}, image_wh=image_wh)
            if out:
                result["parentID"] = out[0]["id"]
            out.append(result)
        return out

    def _keypoints(self, a: Annotation, keypoints: Keypoints, *, image_wh: tuple[int, int]
                   ) -> list[Json]:
        label_class = self.schema.get(a.label)
        names = label_class.keypoint_names if label_class else ()
        control = self.names.keypoints.get(a.label)
        count_unwritten_shape(keypoints, self.ctx)
        box = bounding_box(keypoints)
        if box is None or control is None or len(names) != len(keypoints.points):
            self.ctx.report.count("not written: keypoints without labelled points, or whose "
                                  "class does not name them")
            return []
        owner = self._result(a, "rectanglelabels", RECTANGLE, {
            **box_to_ls(box, image_wh=image_wh), "rectanglelabels": [a.label]},
            image_wh=image_wh)
        out = [owner]
        width, height = image_wh
        for name, point in zip(names, keypoints.points, strict=True):
            if point.v is Visibility.NOT_LABELED:
                continue
            result = self._result(a, "keypointlabels", control, {
                "x": to_percent(point.x, width), "y": to_percent(point.y, height),
                "width": to_percent(KEYPOINT_RADIUS_PX, width), "keypointlabels": [name]},
                image_wh=image_wh)
            result["parentID"] = owner["id"]
            if point.v is Visibility.OCCLUDED:
                result["meta"] = {"text": [OCCLUDED]}
            out.append(result)
        return out

    def _attributes(self, a: Annotation, region_id: str) -> list[Json]:
        label_class = self.schema.get(a.label)
        defs = {d.name: d for d in label_class.attributes} if label_class else {}
        out: list[Json] = []
        for name, value in a.attributes.items():
            control = self.names.attributes.get((a.label, name))
            definition = defs.get(name)
            if control is None or definition is None:
                self.ctx.report.count("not written: attribute the schema does not define")
                continue
            typed = attribute_value(definition, value)
            if typed is None:
                self.ctx.report.count("not written: attribute value that does not fit its "
                                      "definition")
                continue
            kind, payload = typed
            out.append({"id": region_id, "type": kind, "from_name": control, "to_name": IMAGE,
                        "value": payload})
        return out

    def _answers(self, answers: tuple[Classification, ...], path: tuple[str, ...]
                 ) -> list[Json]:
        out: list[Json] = []
        for answer in answers:
            key = (*path, answer.name)
            control = self.names.classifications.get(key)
            if control is None:
                self.ctx.report.count("not written: classification the schema does not define")
                continue
            text = self.questions[key].kind is ClassificationKind.TEXT
            out.append({"id": self._next_id(), "type": "textarea" if text else "choices",
                        "from_name": control, "to_name": IMAGE,
                        "value": {"text" if text else "choices": list(answer.values)}})
            out += self._answers(answer.children, key)
        return out


def attribute_value(definition: AttributeDef, value: Any) -> tuple[str, Json] | None:
    """The per-region result type and value of an attribute; None when the value does not fit
    the definition's type."""
    match definition.type:
        case AttributeType.BOOL if isinstance(value, bool):
            return "choices", {"choices": [BOOL_CHOICES[0] if value else BOOL_CHOICES[1]]}
        case AttributeType.SELECT if isinstance(value, str) and value in definition.options:
            return "choices", {"choices": [value]}
        case AttributeType.INT | AttributeType.FLOAT if isinstance(value, int | float) and \
                not isinstance(value, bool):
            return "number", {"number": value}
        case AttributeType.STRING if isinstance(value, str):
            return "textarea", {"text": [value]}
    return None


def _labelsets(record: ItemRecord) -> Iterator[tuple[str, Task | None, list[Annotation]]]:
    """Each labelset of the record with its task and objects: the tasks' order, then labelsets
    that only annotations name."""
    by_labelset: dict[str, list[Annotation]] = {}
    for a in record.annotations:
        by_labelset.setdefault(a.labelset, []).append(a)
    tasks = {t.labelset: t for t in record.tasks}
    for name in [*tasks, *(n for n in by_labelset if n not in tasks)]:
        yield name, tasks.get(name), by_labelset.get(name, [])


def _annotator(task: Task | None, objects: list[Annotation]) -> str | None:
    """Who labelled a labelset: its task's assignee, else the first object's annotator."""
    assignee = task.assignee if task else None
    return assignee or next((a.annotator for a in objects if a.annotator), None)


def _is_prediction(labelset: str, objects: list[Annotation]) -> bool:
    if labelset == PREDICTIONS:
        return True
    return labelset != DEFAULT_LABELSET and bool(objects) and all(
        a.source is Source.MODEL for a in objects)


def _write_tasks(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
                 ctx: WriteContext, emit: Any, *, predictions: bool = True) -> None:
    """Stream the tasks through ``emit(task, file)`` into ``result.json`` (or, with option
    ``files=per_task``, one file per task), then write the config."""
    root = str(options.get("image_root") or "")
    writer = _TaskWriter(schema=source.schema, ctx=ctx,
                         holes_as_brush=str(options.get("holes", "brush")) == "brush",
                         annotators_in_meta=str(options.get("annotators", "meta")) == "meta",
                         image_root=check_image_root(root) if root else "",
                         predictions=predictions)
    out_dir.mkdir(parents=True, exist_ok=True)
    if options.get("files") == "per_task":
        _write_task_files(source, out_dir, writer)
    else:
        _write_result_file(source, out_dir, writer, emit)
    (out_dir / CONFIG_FILE).write_text(writer.config(), encoding="utf-8")


def _write_task_files(source: ExportSource, out_dir: Path, writer: _TaskWriter) -> None:
    """``tasks/{id}.json``, one task each, as Label Studio writes tasks to a cloud storage."""
    (out_dir / TASKS_DIR).mkdir()
    done = 0
    for done, record in enumerate(source.records(), start=1):
        task = writer.task(record, out_dir)
        writer.ctx.files.write_text(out_dir / TASKS_DIR / f"{task['id']}.json",
                                    orjson.dumps(task).decode() + "\n")
        if done % _PROGRESS_EVERY == 0:
            writer.ctx.progress(done)
    writer.ctx.progress(done)


def _write_result_file(source: ExportSource, out_dir: Path, writer: _TaskWriter,
                       emit: Any) -> None:
    ctx = writer.ctx
    with (out_dir / RESULT_FILE).open("wb") as f:
        f.write(b"[")
        first = True
        done = 0
        for done, record in enumerate(source.records(), start=1):
            for entry in emit(writer.task(record, out_dir)):
                f.write((b"\n" if first else b",\n") + orjson.dumps(entry))
                first = False
            if done % _PROGRESS_EVERY == 0:
                ctx.progress(done)
        ctx.progress(done)
        f.write(b"\n]\n")


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """Write ``result.json`` (one task per line, as records arrive) and ``label_config.xml``."""
    _write_tasks(source, out_dir, options, ctx, lambda task: (task,))


def min_records(task: Json) -> list[Json]:
    """A task as JSON_MIN records, as Label Studio's converter (``convert_to_json_min``) makes
    them: one per annotation not skipped."""
    base = {**task["data"], "id": task["id"]}
    annotators = (task.get("meta") or {}).get(ANNOTATORS) or []
    kept = [(a, annotators[i] if i < len(annotators) else None)
            for i, a in enumerate(task["annotations"]) if not a["was_cancelled"]]
    if not kept:
        empty = {**base, "annotator": None, "annotation_id": None, "created_at": None,
                 "updated_at": None, "lead_time": None}
        return [{**empty, "was_cancelled": True} if task["annotations"] else empty]
    out = []
    for annotation, annotator in kept:
        record = dict(base)
        values: dict[str, list[Json]] = {}
        kinds: dict[str, str] = {}
        for result in annotation["result"]:
            value = dict(result["value"])
            for key in ("original_width", "original_height"):
                if key in result:
                    value[key] = result[key]
            values.setdefault(result["from_name"], []).append(value)
            kinds[result["from_name"]] = result["type"]
        for name, found in values.items():
            record[name] = _prettify(found, kinds[name])
        completed_by = annotation.get("completed_by") or {}
        record.update(annotator=annotator or completed_by.get("email"),
                      annotation_id=annotation["id"],
                      created_at=annotation["created_at"], updated_at=annotation["updated_at"],
                      lead_time=annotation["lead_time"])
        out.append(record)
    return out


def _prettify(values: list[Json], kind: str) -> Any:
    """A lone choice or text as a plain string, as the converter's ``prettify_result``."""
    out = [v["choices"][0] if kind == "choices" and len(v["choices"]) == 1 else
           v["text"][0] if kind == "textarea" and len(v["text"]) == 1 else v for v in values]
    return out[0] if kind in ("choices", "textarea") and len(out) == 1 else out


def write_min(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
              ctx: WriteContext) -> None:
    """Write JSON_MIN ``result.json`` (one record per line) and ``label_config.xml``; the
    cancelled annotations it leaves out are counted."""
    def emit(task: Json) -> list[Json]:
        cancelled = sum(a["was_cancelled"] for a in task["annotations"])
        if cancelled:
            ctx.report.count(CANCELLED, cancelled)
        return min_records(task)

    _write_tasks(source, out_dir, options, ctx, emit, predictions=False)


_CONVENTIONS = Conventions(
    coordinates="percent (0-100) of original_width / original_height, floats, not rounded",
    index_base="n/a",
    ids="task ids from 1; annotation and prediction ids from 1 across the file; result ids "
        "'{task}-{n}'",
    notes="rectangles anchored at the top-left corner, rotation clockwise in degrees about it, "
          "converted in pixels; brush masks in Label Studio's RLE (rle-pack of RGBA, alpha = "
          "mask); polygons with holes as brush masks; multi-part polygons as regions sharing a "
          "parentID; keypoints hang from a rectangle by parentID; polylines not written",
)
_HOLES = OptionSpec(name="holes", type=str, default="brush", choices=("brush", "drop"),
                    help="a polygon with holes: 'brush' writes it as a brush mask (lossless in "
                         "pixels), 'drop' writes its outer rings as polygons without the holes")
_ANNOTATORS = OptionSpec(
    name="annotators", type=str, default="meta", choices=("meta", "email"),
    help="where each annotation's annotator goes: 'meta' in the task's meta "
         "({'annotators': [...]}, one per annotation; Label Studio imports it as is and assigns "
         "the annotations to the importing user), 'email' in completed_by {'email': ...} (Label "
         "Studio refuses an e-mail that is not one of its users')")
_IMAGE_ROOT = OptionSpec(
    name="image_root", type=str, default="",
    help="write each image as Label Studio resolves it: '/data/local-files/?d=<the export "
         "folder's path under Label Studio's document root>', '/data/upload/<project id>', or "
         "a URL prefix (http, https, s3, gs, azure-blob) where the export folder is; the "
         "image's path inside the export is appended (to an upload root, the item's file "
         "name: images uploaded to Label Studio, as a task read from its export names them)")
_FILES = OptionSpec(
    name="files", type=str, default="single", choices=("single", "per_task"),
    help="'single': result.json, a list of every task; 'per_task': tasks/{id}.json, one task "
         "each, as Label Studio writes tasks to a cloud storage (a target storage's files)")
_GEOMETRIES = frozenset({GeometryKind.BOX, GeometryKind.ROTATED_BOX, GeometryKind.POLYGON,
                         GeometryKind.MASK, GeometryKind.KEYPOINTS, GeometryKind.NONE})

SPEC = FormatSpec(
    name="labelstudio",
    title="Label Studio JSON (tasks, annotations, predictions) with its label config",
    extension=".json",
    geometries=_GEOMETRIES,
    conventions=_CONVENTIONS,
    attributes=True,
    scores=True,
    splits=True,
    media=True,
    options=(_HOLES, _ANNOTATORS, _IMAGE_ROOT, _FILES),
    writer=write,
    reader=read,
    merge_shards=merge_shards,
)

MIN_SPEC = replace(
    SPEC,
    name="labelstudio_min",
    title="Label Studio JSON_MIN (one flat record per annotation) with its label config",
    options=(_HOLES, _ANNOTATORS, _IMAGE_ROOT),
    writer=write_min,
    reader=read_min,
    merge_shards=merge_min_shards,
    merge_reads=(CONFIG_FILE, RESULT_FILE),
)

