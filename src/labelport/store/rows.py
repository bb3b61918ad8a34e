"""Rows to domain values and back: the one place that knows how a value is laid out in the
tables (see `labelport.store.tables`). JSON payloads use `labelport.domain.codec`'s layouts,
encoded with orjson, NULL when empty.

Reading annotations is the store's hot path (millions per export), so `annotations_per_item`
reads the driver's plain row tuples in one loop and builds the frozen values without running
their ``__init__`` (which costs about three times as much for a 15-field frozen dataclass).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from typing import Any

import orjson

from labelport.domain import codec
from labelport.domain.construct import new_annotation as _new_annotation
from labelport.domain.construct import new_box as _new_box
from labelport.domain.construct import new_item as _new_item
from labelport.domain.construct import new_record as _new_record
from labelport.domain.geometry import GeometryKind
from labelport.domain.model import Annotation, Item, ItemRecord, Source, Task, TaskStatus
from labelport.domain.moments import assume_utc
from labelport.domain.schema import ClassificationDef, LabelClass
from labelport.errors import InputError
from labelport.store import tables as t

_loads = orjson.loads


def dump_json(value: Any) -> str | None:
    """``value`` as JSON text, or None (SQL NULL) when it is empty; an `InputError` for what
    JSON cannot hold here (an integer beyond 64 bits), never a crash of the caller."""
    try:
        return orjson.dumps(value).decode() if value else None
    except orjson.JSONEncodeError as error:
        raise unstorable(error) from None


def unstorable(error: orjson.JSONEncodeError) -> InputError:
    """The error for a value orjson cannot encode (an integer past 64 bits, a lone
    surrogate): the input's, not the store's."""
    return InputError(f"a value cannot be stored: {error}")


def to_utc(value: datetime | None) -> datetime | None:
    """The UTC time to store; a naive datetime is taken to be UTC already."""
    return None if value is None else assume_utc(value).astimezone(UTC)


def from_db_time(value: str | datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime, whichever way the driver returned it (SQLite
    returns text without offset, psycopg an aware datetime)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return assume_utc(value)


_SOURCES = {s.value: s for s in Source}
_STATUSES = {s.value: s for s in TaskStatus}


# --- schema -----------------------------------------------------------------------------

_SPEC_KEYS = ("keypoint_names", "skeleton", "flip_pairs", "attributes")


def label_class_row(label_class: LabelClass, *, project_id: int, position: int) -> dict[str, Any]:
    data = codec.label_class_to_json(label_class)
    return {
        "project_id": project_id, "local_id": label_class.id, "position": position,
        "name": label_class.name, "geometry": label_class.geometry.value,
        "parent": label_class.parent, "color": label_class.color,
        "spec": dump_json({k: data[k] for k in _SPEC_KEYS if k in data}),
    }


LABEL_CLASS_COLUMNS = (t.label_classes.c.local_id, t.label_classes.c.name,
                       t.label_classes.c.geometry, t.label_classes.c.parent,
                       t.label_classes.c.color, t.label_classes.c.spec)


def label_class_from_row(row: Sequence[Any]) -> LabelClass:
    """A class from a row of `LABEL_CLASS_COLUMNS`."""
    local_id, name, geometry, parent, color, spec = row
    data = _loads(spec) if spec else {}
    data.update(id=local_id, name=name, geometry=geometry, parent=parent, color=color)
    return codec.label_class_from_json(data)


def classifications_text(definitions: Iterable[ClassificationDef]) -> str | None:
    return dump_json([codec.classification_def_to_json(d) for d in definitions])


def classifications_from_text(text: str | None) -> tuple[ClassificationDef, ...]:
    return tuple(codec.classification_def_from_json(d) for d in _loads(text or "[]"))


# --- items and tasks --------------------------------------------------------------------


ITEM_FIELDS = ("project_id", "dataset_id", "path", "width", "height", "media_uri",
               "frame_count", "channels", "bit_depth", "metadata", "video")
"""The columns `item_values` fills, in its order (``id`` is the database's)."""


def item_values(item: Item, project_id: int, dataset_id: int) -> tuple[Any, ...]:
    """An item's row as a tuple of `ITEM_FIELDS` (how bulk inserts take it)."""
    return (project_id, dataset_id, item.path, item.width, item.height, item.media_uri,
            item.frame_count, item.channels, item.bit_depth, dump_json(dict(item.metadata)),
            None if item.video is None else dump_json(codec.video_info_to_json(item.video)))


def item_row(item: Item, *, project_id: int, dataset_id: int) -> dict[str, Any]:
    return dict(zip(ITEM_FIELDS, item_values(item, project_id, dataset_id), strict=True))


ITEM_COLUMNS = (t.items.c.id, t.items.c.dataset_id, t.items.c.path, t.items.c.width,
                t.items.c.height, t.items.c.media_uri, t.items.c.frame_count,
                t.items.c.channels, t.items.c.bit_depth, t.items.c.metadata, t.items.c.video)


def item_from_row(row: Sequence[Any], dataset_names: Mapping[int, str]) -> Item:
    """An item from a row of `ITEM_COLUMNS`."""
    (id_, dataset_id, path, width, height, media_uri, frame_count, channels, bit_depth, meta,
     video) = row
    return _new_item(dataset_names[dataset_id], path, width, height, media_uri, frame_count,
                     channels, bit_depth, _loads(meta) if meta else {}, id_,
                     codec.video_info_from_json(_loads(video)) if video else None)


def item_record(item: Item, tasks: tuple[Task, ...],
                annotations: tuple[Annotation, ...]) -> ItemRecord:
    """A record as the store streams it (no split: the export pipeline assigns those)."""
    return _new_record(item, tasks, annotations, None)  # type: ignore[no-any-return]


TASK_FIELDS = ("item_id", "labelset_id", "status", "assignee", "reviewer", "classifications",
               "created_at", "updated_at")
"""The columns `task_values` fills, in its order."""


def task_values(task: Task, item_id: int, labelset_id: int) -> tuple[Any, ...]:
    """A task's row as a tuple of `TASK_FIELDS`."""
    return (item_id, labelset_id, task.status.value, task.assignee, task.reviewer,
            dump_json([codec.classification_to_json(c) for c in task.classifications]),
            to_utc(task.created_at), to_utc(task.updated_at))


def task_row(task: Task, *, item_id: int, labelset_id: int) -> dict[str, Any]:
    return dict(zip(TASK_FIELDS, task_values(task, item_id, labelset_id), strict=True))


TASK_COLUMNS = (t.tasks.c.item_id, t.tasks.c.labelset_id, t.tasks.c.status,
                t.tasks.c.assignee, t.tasks.c.reviewer, t.tasks.c.classifications,
                t.tasks.c.created_at, t.tasks.c.updated_at)


def task_from_row(row: Sequence[Any], labelset_names: Mapping[int, str]) -> Task:
    """A task from a row of `TASK_COLUMNS` (its item id is the caller's business)."""
    _item_id, labelset_id, status, assignee, reviewer, answers, created_at, updated_at = row
    return Task(
        labelset=labelset_names[labelset_id], status=_STATUSES[status], assignee=assignee,
        reviewer=reviewer,
        classifications=tuple(codec.classification_from_json(c) for c in _loads(answers))
        if answers else (),
        created_at=from_db_time(created_at), updated_at=from_db_time(updated_at),
    )


# --- annotations ------------------------------------------------------------------------


ANNOTATION_FIELDS = (
    "item_id", "labelset_id", "class_id", "kind", "geometry", "attributes", "extras", "source",
    "score", "tags", "instance_id", "frame", "z_order", "crowd", "annotator", "lead_time_s",
    "created_at", "updated_at", "outside")
"""The columns `annotations_values` fills, in its order (``id`` is the database's)."""

ANNOTATION_PLAIN_FIELDS = ANNOTATION_FIELDS[:6]
"""The columns of a plain annotation's row (one whose fields of `ANNOTATION_EXTRA_COLUMNS` all
hold their defaults, the ``extras`` column false): the others
hold `ANNOTATION_DEFAULTS`, which are also the table's server defaults for them, so a bulk
insert leaves them out (a row of 6 values binds about a third of what one of 19 does)."""

ANNOTATION_DEFAULTS = (False, "human", None, None, None, None, 0, False, None, None, None,
                       None, False)
"""The values of the columns after `ANNOTATION_PLAIN_FIELDS` in a plain annotation's row."""

_KIND_VALUES = {k: k.value for k in GeometryKind}
_SOURCE_VALUES = {s: s.value for s in Source}
_EXTRAS = attrgetter("source", "score", "tags", "instance_id", "frame", "z_order", "crowd",
                     "annotator", "lead_time_s", "created_at", "updated_at", "outside")
"""The fields of `ANNOTATION_EXTRA_COLUMNS`, read in one C call."""
_NO_EXTRAS = (Source.HUMAN, None, (), None, None, 0, False, None, None, None, None, False)
"""Those fields of an annotation without extras."""


def annotations_values(items: Iterable[tuple[int, Iterable[Annotation]]],
                       labelset_id: Callable[[str], int],
                       class_id: Callable[[str, GeometryKind], int]) -> list[tuple[Any, ...]]:
    """The rows of the annotations of ``(item id, annotations)`` pairs: tuples of
    `ANNOTATION_FIELDS`, or of `ANNOTATION_PLAIN_FIELDS` only for a plain annotation.
    ``labelset_id`` and ``class_id`` give the row id of a labelset and of a class (by name,
    and the geometry kind of the annotation naming it first), each asked once per name.

    An import runs the loop for every annotation, so it stays in one call for a whole batch,
    with the enum values from dicts (``.value`` costs a descriptor call) and the JSON encoded
    without a call per value."""
    kinds, sources, dumps, to_json = _KIND_VALUES, _SOURCE_VALUES, orjson.dumps, \
        codec.geometry_to_json
    extras_of, no_extras = _EXTRAS, _NO_EXTRAS
    labelset_ids: dict[str, int] = {}
    class_ids: dict[str, int] = {}
    out: list[tuple[Any, ...]] = []
    try:
        for item_id, annotations in items:
            for a in annotations:
                geometry, attributes, labelset, label = a.geometry, a.attributes, a.labelset, \
                    a.label
                kind = geometry.kind
                labelset_row = labelset_ids.get(labelset)
                if labelset_row is None:
                    labelset_row = labelset_ids[labelset] = labelset_id(labelset)
                class_row = class_ids.get(label)
                if class_row is None:
                    class_row = class_ids[label] = class_id(label, kind)
                plain = (item_id, labelset_row, class_row, kinds[kind],
                         dumps(to_json(geometry)).decode(),
                         dumps(dict(attributes)).decode() if attributes else None)
                extras = extras_of(a)
                if extras == no_extras:
                    out.append(plain)
                    continue
                (source, score, tags, instance_id, frame, z_order, crowd, annotator,
                 lead_time_s, created_at, updated_at, outside) = extras
                out.append(plain + (
                    True, sources[source], score, dumps(list(tags)).decode() if tags else None,
                    instance_id, frame, z_order, crowd, annotator, lead_time_s,
                    to_utc(created_at), to_utc(updated_at), outside))
    except orjson.JSONEncodeError as error:
        raise unstorable(error) from None
    return out


def annotation_row(annotation: Annotation, *, item_id: int, labelset_id: int,
                   class_id: int) -> dict[str, Any]:
    """An annotation's row with every column of `ANNOTATION_FIELDS`."""
    values, = annotations_values([(item_id, [annotation])], lambda _: labelset_id,
                                 lambda _name, _kind: class_id)
    if len(values) < len(ANNOTATION_FIELDS):
        values += ANNOTATION_DEFAULTS
    return dict(zip(ANNOTATION_FIELDS, values, strict=True))


_a = t.annotations.c
ANNOTATION_COLUMNS = (
    _a.id, _a.item_id, _a.labelset_id, _a.class_id, _a.geometry, _a.attributes, _a.extras)
"""What every annotation needs. Reading a column costs about as much as decoding it, so the
fields that usually hold their defaults (human-made annotations without timestamps) are read
with a second query, `ANNOTATION_EXTRA_COLUMNS`, for the rows whose ``extras`` is true."""

ANNOTATION_EXTRA_COLUMNS = (
    _a.id, _a.source, _a.score, _a.tags, _a.instance_id, _a.frame, _a.z_order, _a.crowd,
    _a.annotator, _a.lead_time_s, _a.created_at, _a.updated_at, _a.outside)




def annotations_per_item(
        rows: Iterable[Sequence[Any]], extras: Mapping[int, Sequence[Any]],
        class_names: Mapping[int, str], labelset_names: Mapping[int, str],
) -> Iterator[tuple[int, list[Annotation]]]:
    """``(item id, its annotations in id order)`` for each item of rows of
    `ANNOTATION_COLUMNS` ordered by item, then labelset, then id; ``extras`` holds the rows of
    `ANNOTATION_EXTRA_COLUMNS` of the rows that have extras, by annotation id.

    Lazy, so only the item being read is decoded: the objects of a whole batch alive at once
    would make every garbage collection walk them all."""
    attribute_maps: dict[str, dict[str, Any]] = {}  # few distinct texts: decode each once
    # locals: this loop runs once per annotation, millions of times per export
    loads, new_box, new_annotation, sources = _loads, _new_box, _new_annotation, _SOURCES
    decoders, box, human = codec.GEOMETRY_DECODERS, GeometryKind.BOX.value, Source.HUMAN
    current_item = current_labelset = -1  # ids are positive
    current: list[Annotation] = []
    current_ids: list[int] = []
    mixed = False  # annotations from several labelsets: rows are not in id order
    for id_, item_id, labelset_id, class_id, geometry, attributes, extra in rows:
        g = loads(geometry)
        kind = g["kind"]
        shape = new_box(g["x"], g["y"], g["w"], g["h"]) if kind == box else decoders[kind](g)
        if attributes is None:
            attribute_map: dict[str, Any] = {}
        else:
            decoded = attribute_maps.get(attributes)
            if decoded is None:
                decoded = attribute_maps[attributes] = loads(attributes)
            attribute_map = decoded.copy()
        if not extra:
            annotation = new_annotation(
                class_names[class_id], shape, labelset_names[labelset_id], attribute_map, (),
                None, None, 0, False, human, None, None, None, None, None)
        else:
            (_, source, score, tags, instance_id, frame, z_order, crowd, annotator, lead_time_s,
             created_at, updated_at, outside) = extras[id_]
            annotation = new_annotation(
                class_names[class_id], shape, labelset_names[labelset_id], attribute_map,
                tuple(loads(tags)) if tags else (), instance_id, frame, z_order, bool(crowd),
                sources[source], score, annotator, lead_time_s, from_db_time(created_at),
                from_db_time(updated_at), bool(outside))
        if item_id != current_item:
            if current:
                yield current_item, _in_id_order(current, current_ids) if mixed else current
            current, current_ids, mixed = [], [], False
            current_item, current_labelset = item_id, labelset_id
        elif labelset_id != current_labelset:
            mixed, current_labelset = True, labelset_id
        current.append(annotation)
        current_ids.append(id_)
    if current:
        yield current_item, _in_id_order(current, current_ids) if mixed else current


def _in_id_order(annotations: list[Annotation], ids: list[int]) -> list[Annotation]:
    return [a for _, a in sorted(zip(ids, annotations, strict=True), key=itemgetter(0))]
