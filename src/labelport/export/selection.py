"""Selection: which items, tasks and objects of a source an export carries.

`select` keeps one labelset's task and annotations (`restrict_labelsets`) and filters items
and annotations in the same streaming pass; what it filters out is counted by reason
(``filtered: status skipped``, ``filtered: prediction below min score``, ...).

Decisions a caller must know:
- Item filters decide whether an image is exported at all: dataset, ids, status, image size,
  file type, metadata, annotator, dates. Object filters remove annotations from an image that
  stays: source, min score, labels. An image left without objects is kept unless
  ``only_annotated``.
- ``statuses``: the status of the item's task in the labelset; an item without one is ``new``.
  Default: every status but ``skipped``.
- ``annotator`` keeps items the user worked on (the task's assignee, or the annotator of one
  of its objects in the labelset); other annotators' objects on those items are kept, since
  removing them would leave unlabelled objects on the image.
- Dates select items too: ``created_*`` compare the task's ``created_at`` (else the earliest
  object's), ``updated_*`` the latest of the task's and its objects' timestamps. ``*_after``
  is inclusive, ``*_before`` exclusive; a date alone is midnight UTC, a time without a zone is
  UTC. An item with no timestamp is filtered out by a date filter.
- ``source``: ``human`` (default) keeps objects drawn by people, ``model`` keeps predictions,
  ``all`` both; ``min_score`` removes predictions scored below it (or without a score).
- ``file_types``: extensions of the item's path, case-insensitive, without the dot;
  ``jpg``/``jpeg`` and ``tif``/``tiff`` are the same type.
- ``meta``: ``KEY=VALUE`` pairs compared with the metadata value as a string (booleans as
  ``true``/``false``); different keys must all match, one key given twice matches either value.
- ``ids`` file: one id per line, blank lines and ``#`` comments ignored; a number is a store
  item id, a line with a ``/`` is an item key ``dataset/path``.
- ``len()`` of the selected source is exact: its input's length when the selection cannot drop
  items, else one counting pass over the input on the first call.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from labelport.domain.model import (
    DEFAULT_LABELSET,
    Annotation,
    ItemRecord,
    Source,
    TaskStatus,
)
from labelport.domain.moments import assume_utc
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError
from labelport.export.stage import PassCounter, StageReport, StageSource
from labelport.formats.base import Report

SOURCE_CHOICES = ("human", "model", "all")
DEFAULT_STATUSES = frozenset(s for s in TaskStatus if s is not TaskStatus.SKIPPED)
_SAME_TYPE = {"jpeg": "jpg", "tiff": "tif"}


def restrict_labelsets(source: ExportSource, labelsets: Sequence[str]) -> ExportSource:
    """The same items with only the tasks and annotations of ``labelsets`` (in that order)."""
    wanted = tuple(labelsets)
    order = {name: i for i, name in enumerate(wanted)}

    def records() -> Iterator[ItemRecord]:
        for record in source.records():
            tasks = sorted((t for t in record.tasks if t.labelset in order),
                           key=lambda t: order[t.labelset])
            annotations = tuple(a for a in record.annotations if a.labelset in order)
            yield replace(record, tasks=tuple(tasks), annotations=annotations)

    return StreamSource(project=source.project, schema=source.schema, count=len(source),
                        open_records=records, datasets=source.datasets,
                        labelsets=tuple(ls for ls in source.labelsets if ls.name in order))


@dataclass(frozen=True, slots=True, kw_only=True)
class Selection:
    """The export's filters; empty tuples and None mean "no filter". See the module's notes."""

    datasets: tuple[str, ...] = ()
    labelset: str = DEFAULT_LABELSET
    statuses: frozenset[TaskStatus] = DEFAULT_STATUSES
    labels: tuple[str, ...] = ()
    annotator: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    source: str = "human"
    min_score: float | None = None
    min_width: int | None = None
    max_width: int | None = None
    min_height: int | None = None
    max_height: int | None = None
    file_types: frozenset[str] = frozenset()
    meta: tuple[tuple[str, str], ...] = ()
    ids: frozenset[int | str] | None = None
    ids_file: str | None = None
    only_annotated: bool = False

    def __post_init__(self) -> None:
        if self.source not in SOURCE_CHOICES:
            raise InputError(f"--source {self.source!r}: expected one of "
                             f"{', '.join(SOURCE_CHOICES)}")
        for low, high, name in ((self.min_width, self.max_width, "width"),
                                (self.min_height, self.max_height, "height")):
            if low is not None and high is not None and low > high:
                raise InputError(f"--min-{name} {low} is above --max-{name} {high}")
        for name in ("created_after", "created_before", "updated_after", "updated_before"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InputError(f"{name} must be a timezone-aware datetime, not {value}")
        try:
            statuses = frozenset(TaskStatus(s) for s in self.statuses)
        except ValueError as exc:
            raise InputError(f"status: {exc}; expected one of "
                             f"{', '.join(s.value for s in TaskStatus)}") from None
        object.__setattr__(self, "statuses", statuses)
        object.__setattr__(self, "file_types", frozenset(_file_type(t) for t in self.file_types))

    @classmethod
    def from_cli(cls, *, datasets: Sequence[str] = (), labelset: str | None = None,
                 statuses: Sequence[str] = (), labels: Sequence[str] = (),
                 annotator: str | None = None, created_after: str | None = None,
                 created_before: str | None = None, updated_after: str | None = None,
                 updated_before: str | None = None, source: str | None = None,
                 min_score: float | None = None, min_width: int | None = None,
                 max_width: int | None = None, min_height: int | None = None,
                 max_height: int | None = None, file_types: Sequence[str] = (),
                 meta: Sequence[str] = (), ids: Path | None = None,
                 only_annotated: bool = False) -> Selection:
        """A selection from the CLI's strings: ``--labels`` and ``--file-type`` values are
        comma lists (quote a name holding a comma: ``'car,"sign, temporary"'``)."""
        return cls(
            datasets=tuple(datasets), labelset=labelset or DEFAULT_LABELSET,
            statuses=parse_statuses(statuses) if statuses else DEFAULT_STATUSES,
            labels=parse_names(labels), annotator=annotator,
            created_after=_date_option(created_after, "--created-after"),
            created_before=_date_option(created_before, "--created-before"),
            updated_after=_date_option(updated_after, "--updated-after"),
            updated_before=_date_option(updated_before, "--updated-before"),
            source=source or "human", min_score=min_score,
            min_width=min_width, max_width=max_width, min_height=min_height,
            max_height=max_height, file_types=frozenset(parse_names(file_types)),
            meta=tuple(parse_meta(m) for m in meta),
            ids=read_ids(ids) if ids is not None else None,
            ids_file=str(ids) if ids is not None else None,
            only_annotated=only_annotated)

    def to_json(self) -> dict[str, Any]:
        """The selection as the manifest records it; an ids list is recorded by its file, size
        and a hash, not id by id."""
        dates = {name: value.isoformat() if value else None for name, value in (
            ("created_after", self.created_after), ("created_before", self.created_before),
            ("updated_after", self.updated_after), ("updated_before", self.updated_before))}
        ids = None
        if self.ids is not None:
            digest = hashlib.sha256("\n".join(sorted(map(str, self.ids))).encode()).hexdigest()
            ids = {"file": self.ids_file, "count": len(self.ids), "sha256": digest}
        return {
            "datasets": list(self.datasets), "labelset": self.labelset,
            "statuses": sorted(s.value for s in self.statuses), "labels": list(self.labels),
            "annotator": self.annotator, **dates, "source": self.source,
            "min_score": self.min_score, "min_width": self.min_width,
            "max_width": self.max_width, "min_height": self.min_height,
            "max_height": self.max_height, "file_types": sorted(self.file_types),
            "meta": [f"{k}={v}" for k, v in self.meta], "ids": ids,
            "only_annotated": self.only_annotated,
        }

    @property
    def drops_items(self) -> bool:
        """Whether the selection may leave out whole items (else ``len`` is the input's)."""
        return (bool(self.datasets) or self.statuses != frozenset(TaskStatus)
                or self.annotator is not None or self.only_annotated or self.ids is not None
                or bool(self.file_types) or bool(self.meta)
                or any(v is not None for v in (
                    self.created_after, self.created_before, self.updated_after,
                    self.updated_before, self.min_width, self.max_width, self.min_height,
                    self.max_height)))


def parse_date(text: str, option: str = "date") -> datetime:
    """``YYYY-MM-DD`` (midnight UTC) or ISO 8601; a time without a zone is UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{option} {text!r}: expected a date YYYY-MM-DD or an ISO 8601 "
                         "time such as 2024-05-06T09:00:00+02:00") from None
    return assume_utc(value)


def parse_statuses(values: Iterable[str]) -> frozenset[TaskStatus]:
    """``--status`` values (repeatable, or comma lists) as task statuses."""
    statuses = set()
    for name in parse_names(values):
        try:
            statuses.add(TaskStatus(name))
        except ValueError:
            raise InputError(f"--status {name!r}: expected one of "
                             f"{', '.join(s.value for s in TaskStatus)}") from None
    return frozenset(statuses)


def parse_names(values: Iterable[str]) -> tuple[str, ...]:
    """Comma lists, CSV-quoted so a name may hold a comma, flattened in order."""
    names: dict[str, None] = {}
    for value in values:
        for row in csv.reader([value], skipinitialspace=True):
            names.update((n.strip(), None) for n in row if n.strip())
    return tuple(names)


def parse_meta(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (the value may hold ``=``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--meta {text!r}: expected KEY=VALUE, e.g. camera=cam-3")
    return key.strip(), value


def read_ids(path: Path) -> frozenset[int | str]:
    """The ids file: one store item id or ``dataset/path`` key per line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the ids file ({exc})") from None
    ids: set[int | str] = set()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "/" in line:
            ids.add(line)
        elif line.isdigit():
            ids.add(int(line))
        else:
            raise InputError(f"{path}:{number}: {line!r} is not an item id; expected a store "
                             "item id (a number) or an item key dataset/path")
    return frozenset(ids)


def select(source: ExportSource, selection: Selection, report: Report) -> ExportSource:
    """``source`` narrowed to ``selection``, streamed: each read of the records re-runs the
    filters over ``source.records()``. Unknown datasets, labelsets or labels are refused."""
    _check_names(source, selection)
    restricted = restrict_labelsets(source, [selection.labelset])

    def stage(counter: PassCounter) -> Iterator[ItemRecord]:
        matched: set[int | str] = set()
        for record in restricted.records():
            kept = _select_record(record, selection, counter)
            if kept is not None:
                if selection.ids is not None:
                    matched.update(i for i in (record.item.id, record.item.key)
                                   if i in selection.ids)
                yield kept
        if selection.ids is not None and len(matched) < len(selection.ids):
            counter.warn(f"{len(selection.ids) - len(matched)} of {len(selection.ids)} ids in "
                         f"{selection.ids_file or 'the ids list'} selected no item")

    return StageSource(project=restricted.project, schema=restricted.schema,
                       datasets=tuple(d for d in source.datasets
                                      if not selection.datasets or d.name in selection.datasets),
                       labelsets=restricted.labelsets, stage=stage, report=StageReport(report),
                       count=None if selection.drops_items else source.__len__,
                       within=source)


def _check_names(source: ExportSource, selection: Selection) -> None:
    known_datasets = [d.name for d in source.datasets]
    for name in selection.datasets:
        if known_datasets and name not in known_datasets:
            raise InputError(f"--dataset {name!r}: no such dataset; datasets: "
                             f"{', '.join(known_datasets)}")
    known_labelsets = [ls.name for ls in source.labelsets]
    if known_labelsets and selection.labelset not in known_labelsets:
        raise InputError(f"--labelset {selection.labelset!r}: no such labelset; labelsets: "
                         f"{', '.join(known_labelsets)}")
    class_names = source.schema.class_names
    for name in selection.labels:
        if name not in class_names:
            raise InputError(f"--labels {name!r}: no such class; classes: "
                             f"{', '.join(class_names)}")


def _select_record(record: ItemRecord, selection: Selection,
                   counter: PassCounter) -> ItemRecord | None:
    """The record with the selected objects, or None (counted by reason) when it is left out."""
    reason = _item_reason(record, selection)
    if reason is not None:
        counter.count(f"filtered: {reason}")
        return None
    kept: list[Annotation] = []
    for annotation in record.annotations:
        reason = _annotation_reason(annotation, selection)
        if reason is None:
            kept.append(annotation)
        else:
            counter.count(f"filtered: {reason}")
    if selection.only_annotated and not kept:
        counter.count("filtered: image without objects")
        return None
    if len(kept) == len(record.annotations):
        return record
    return replace(record, annotations=tuple(kept))


def _item_reason(record: ItemRecord, s: Selection) -> str | None:
    item = record.item
    if s.datasets and item.dataset not in s.datasets:
        return "dataset not selected"
    if s.ids is not None and item.key not in s.ids and item.id not in s.ids:
        return "item not in the ids list"
    status = record.task.status if record.task else TaskStatus.NEW
    if status not in s.statuses:
        return f"status {status.value}"
    if s.min_width is not None and item.width < s.min_width:
        return "image narrower than --min-width"
    if s.max_width is not None and item.width > s.max_width:
        return "image wider than --max-width"
    if s.min_height is not None and item.height < s.min_height:
        return "image lower than --min-height"
    if s.max_height is not None and item.height > s.max_height:
        return "image higher than --max-height"
    if s.file_types and _file_type(item.path.rpartition(".")[2]) not in s.file_types:
        return "file type not selected"
    if s.meta and not _meta_matches(item.metadata, s.meta):
        return "metadata does not match --meta"
    if s.annotator is not None and not _worked_on(record, s.annotator):
        return "annotator not selected"
    return _date_reason(record, s)


def _annotation_reason(annotation: Annotation, s: Selection) -> str | None:
    if s.source != "all" and annotation.source.value != s.source:
        return "prediction (--source human)" if annotation.source is Source.MODEL \
            else "human object (--source model)"
    if (s.min_score is not None and annotation.source is Source.MODEL
            and (annotation.score is None or annotation.score < s.min_score)):
        return "prediction below min score"
    if s.labels and annotation.label not in s.labels:
        return "class not selected"
    return None


def _worked_on(record: ItemRecord, annotator: str) -> bool:
    task = record.task
    return ((task is not None and task.assignee == annotator)
            or any(a.annotator == annotator for a in record.annotations))


def _date_reason(record: ItemRecord, s: Selection) -> str | None:
    if s.created_after is not None or s.created_before is not None:
        task_created = _stamps([record.task.created_at] if record.task else [])
        created = (task_created[0] if task_created
                   else min(_stamps(a.created_at for a in record.annotations), default=None))
        reason = _outside(created, s.created_after, s.created_before, "created")
        if reason is not None:
            return reason
    if s.updated_after is not None or s.updated_before is not None:
        stamps: list[datetime | None] = []
        if record.task is not None:
            stamps += [record.task.created_at, record.task.updated_at]
        for a in record.annotations:
            stamps += [a.created_at, a.updated_at]
        return _outside(max(_stamps(stamps), default=None), s.updated_after, s.updated_before,
                        "updated")
    return None


def _outside(when: datetime | None, after: datetime | None, before: datetime | None,
             what: str) -> str | None:
    if when is None:
        return f"no {what} time"
    if after is not None and when < after:
        return f"{what} before --{what}-after"
    if before is not None and when >= before:
        return f"{what} at or after --{what}-before"
    return None


def _stamps(values: Iterable[datetime | None]) -> list[datetime]:
    return [assume_utc(v) for v in values if v is not None]


def _date_option(text: str | None, option: str) -> datetime | None:
    return parse_date(text, option) if text is not None else None


def _file_type(extension: str) -> str:
    name = extension.strip().lower().lstrip(".")
    return _SAME_TYPE.get(name, name)


def _meta_matches(metadata: Any, wanted: Sequence[tuple[str, str]]) -> bool:
    by_key: dict[str, set[str]] = {}
    for key, value in wanted:
        by_key.setdefault(key, set()).add(value)
    return all(key in metadata and _as_text(metadata[key]) in values
               for key, values in by_key.items())


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
