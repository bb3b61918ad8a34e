"""Checks before export: find what a trainer cannot use (or a writer cannot write) in the
stream of records, and fail, warn or fix it by a policy per check, so nothing is lost or kept
silently.

Each check, and what its ``fix`` does:

=====================  ==========================================  ==============================
check                  finds                                       fix
=====================  ==========================================  ==============================
``unknown_class``      a label that is not a class of the schema   drops the annotation
``degenerate``         a box or rotated box with a non-finite      drops the annotation
                       value, or w or h below ``min_box_px``
``polygon``            a polygon ring with fewer than 3 distinct   drops the annotation
                       points, no area, or crossing edges
``outside``            geometry reaching outside its image         (none: the writers apply the
                       (a mask of another size than the image)     export's ``--outside`` policy)
``attribute_value``    an attribute value of the wrong type, not   removes the value (a required
                       among the options, or outside min/max       attribute is then missing)
``required_attribute`` a required attribute missing (or None)      fills the attribute's default,
                                                                   or drops the annotation when
                                                                   it has none
``missing_media``      a local media file (path or ``file://``)    drops the item
                       that does not exist, or no media URI;
                       remote URIs are not fetched ("not checked")
``duplicate_names``    two items with one output path              (none: the writers rename the
                                                                   later item, see below)
=====================  ==========================================  ==============================

``warn`` keeps the record as it is and reports it; ``fail`` stops the export with an
`ExportCheckError` naming the item, the annotation and the problem; ``skip`` does not run the
check. Checks on one annotation run in the table's order and stop at the first one that drops
it; a value removed by ``attribute_value=fix`` is then seen by ``required_attribute``.

Duplicate names are found with the writers' own `FileNamer` in its strictest mode for the
paths the formats write, folders kept (paths inside the dataset equal by stem,
case-insensitively, within a split's folder: ``a/x.jpg`` and ``b/x.jpg`` are no duplicates),
and the report gives the name the later item is written under (``a/x__field.jpg``); formats
that list file names only (COCO, CSV) rename only when the full paths collide, and a format
that cannot nest folders renames more and lists each renaming in the manifest.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from labelport.domain.geometry import Box, Mask, Polygon, RotatedBox
from labelport.domain.geometry_ops import is_inside_image, polygon_problem
from labelport.domain.model import Annotation, ItemRecord
from labelport.domain.schema import AttributeDef, AttributeType, LabelSchema
from labelport.domain.source import ExportSource
from labelport.errors import InputError
from labelport.export.media import MediaMode, local_media_path
from labelport.export.media_access import MediaAccess
from labelport.export.stage import PassCounter, StageReport, StageSource
from labelport.formats._shared.naming import FileNamer, safe_path
from labelport.formats.base import Report

EXAMPLES_PER_CHECK = 5
"""Problems kept per check, with their item, for the printed summary and the report."""


class Check(enum.StrEnum):
    UNKNOWN_CLASS = "unknown_class"
    DEGENERATE = "degenerate"
    POLYGON = "polygon"
    OUTSIDE = "outside"
    ATTRIBUTE_VALUE = "attribute_value"
    REQUIRED_ATTRIBUTE = "required_attribute"
    MISSING_MEDIA = "missing_media"
    DUPLICATE_NAMES = "duplicate_names"


class Policy(enum.StrEnum):
    FAIL = "fail"
    WARN = "warn"
    FIX = "fix"
    SKIP = "skip"


class Outcome(enum.StrEnum):
    """What happened to one problem; the summary counts problems by check and outcome."""

    FAILED = "failed"
    WARNED = "kept with a warning"
    DROPPED = "dropped"
    REMOVED_VALUE = "value removed"
    FILLED_DEFAULT = "filled with the default"
    RENAMED = "renamed"
    NOT_CHECKED_REMOTE = "not checked: remote media"


_CHECK_NAMES = frozenset(c.value for c in Check)
_POLICY_NAMES = frozenset(p.value for p in Policy)
_NO_FIX = {
    Check.OUTSIDE: "geometry outside the image is fixed by --outside clip|drop|keep",
    Check.DUPLICATE_NAMES: "duplicate names are always resolved by renaming the later item",
}


def _valid_policies(check: Check) -> tuple[Policy, ...]:
    return tuple(p for p in Policy if not (p is Policy.FIX and check in _NO_FIX))


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckPolicies:
    """One policy per check (field names are the check names) and the smallest box side, in
    pixels, that is not degenerate. ``missing_media`` is skipped unless media is copied or
    linked (`parse` with ``media``)."""

    unknown_class: Policy = Policy.FAIL
    degenerate: Policy = Policy.FIX
    polygon: Policy = Policy.FIX
    outside: Policy = Policy.WARN
    attribute_value: Policy = Policy.WARN
    required_attribute: Policy = Policy.WARN
    missing_media: Policy = Policy.SKIP
    duplicate_names: Policy = Policy.WARN
    min_box_px: float = 1e-6

    def __post_init__(self) -> None:
        for check in Check:
            given = getattr(self, check.value)
            if given not in _POLICY_NAMES or Policy(given) not in _valid_policies(check):
                raise InputError(_policy_error(check, str(given)))
            object.__setattr__(self, check.value, Policy(given))
        if not (math.isfinite(self.min_box_px) and self.min_box_px > 0):
            raise InputError(f"minimum box size must be a positive number of pixels; "
                             f"got {self.min_box_px!r}")

    def policy(self, check: Check) -> Policy:
        return Policy(getattr(self, check.value))

    @classmethod
    def parse(cls, specs: Iterable[str], *, media: MediaMode = MediaMode.NONE,
              min_box_px: float = 1e-6) -> CheckPolicies:
        """Policies from ``--check NAME=POLICY`` values (repeatable; one value may also hold
        several, comma-separated), over the defaults: ``missing_media`` is ``warn`` when the
        export copies or links media, else ``skip``."""
        chosen: dict[str, Any] = {}
        if media is not MediaMode.NONE:
            chosen[Check.MISSING_MEDIA.value] = Policy.WARN
        for spec in specs:
            for part in (p.strip() for p in spec.split(",")):
                if not part:
                    continue
                name, sep, value = part.partition("=")
                name, value = name.strip(), value.strip()
                if not sep or not value:
                    raise InputError(f"--check {part!r}: expected NAME=POLICY, "
                                     f"e.g. degenerate=fail")
                if name not in _CHECK_NAMES:
                    raise InputError(f"--check {part!r}: unknown check {name!r}; valid checks: "
                                     + ", ".join(Check))
                if value not in _POLICY_NAMES:
                    raise InputError(f"--check {part!r}: " + _policy_error(Check(name), value))
                chosen[name] = Policy(value)
        return cls(min_box_px=min_box_px, **chosen)

    def to_json(self) -> dict[str, Any]:
        return {f.name: (v.value if isinstance(v := getattr(self, f.name), Policy) else v)
                for f in fields(self)}


def _policy_error(check: Check, given: str) -> str:
    valid = ", ".join(_valid_policies(check))
    why = f" ({_NO_FIX[check]})" if check in _NO_FIX and given == Policy.FIX else ""
    return f"check {check.value} has no policy {given!r}{why}; valid policies: {valid}"


class ExportCheckError(InputError):
    """A check whose policy is ``fail`` found a problem."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckProblem:
    """One problem found: the item (``dataset/path``), the annotation's index in the record
    (None for item-level checks), what is wrong and what was done."""

    check: Check
    item: str
    annotation: int | None
    message: str
    outcome: Outcome

    def describe(self) -> str:
        where = self.item if self.annotation is None else \
            f"{self.item} annotation {self.annotation}"
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check.value, "item": self.item, "annotation": self.annotation,
                "message": self.message, "outcome": self.outcome.value}


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSummary:
    """Problems counted by check and outcome (checks in `Check` order, only those with
    problems), a few examples per check, and how many items and annotations were read."""

    policies: CheckPolicies
    items: int
    annotations: int
    counts: Mapping[Check, Mapping[Outcome, int]]
    examples: Mapping[Check, tuple[CheckProblem, ...]]

    @property
    def failed(self) -> bool:
        """Whether an export with these policies would stop on a problem."""
        return any(Outcome.FAILED in outcomes for outcomes in self.counts.values())

    def lines(self) -> list[str]:
        """One line per check that found problems (with its examples), for a printed summary
        and the export's report."""
        out = []
        for check, outcomes in self.counts.items():
            counted = ", ".join(f"{n} {outcome.value}" for outcome, n in outcomes.items())
            examples = "; ".join(p.describe() for p in self.examples.get(check, ()))
            policy = self.policies.policy(check).value
            out.append(f"check {check.value} ({policy}): {counted}"
                       + (f"; e.g. {examples}" if examples else ""))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "policies": self.policies.to_json(),
            "items": self.items,
            "annotations": self.annotations,
            "counts": {c.value: {o.value: n for o, n in outcomes.items()}
                       for c, outcomes in self.counts.items()},
            "examples": {c.value: [p.to_json() for p in problems]
                         for c, problems in self.examples.items()},
        }


def check(source: ExportSource, policies: CheckPolicies, report: Report, *,
          media_access: MediaAccess | None = None) -> ExportSource:
    """The records of ``source`` after the checks, as a stream.

    A problem under ``fail`` raises `ExportCheckError` at once. What was kept or fixed is
    counted in ``report`` (``check degenerate: dropped``, ...), and a pass that reads every
    record adds one line per check with examples; a stage that reads twice counts once. With
    ``missing_media=fix`` (which drops items) ``len()`` reads the records once more.
    ``missing_media`` looks only at media ``media_access`` allows: another is a
    `MediaDeniedError` at once, so the export fails before anything is copied."""

    def stage(counter: PassCounter) -> Iterator[ItemRecord]:
        checker = _Checker(source.schema, policies, stop_on_fail=True, counter=counter,
                           media_access=media_access or MediaAccess.local())
        for record in source.records():
            kept = checker.record(record)
            if kept is not None:
                yield kept
        for line in checker.summary().lines():
            counter.warn(line)

    return StageSource(project=source.project, schema=source.schema, datasets=source.datasets,
                       labelsets=source.labelsets, stage=stage, report=StageReport(report),
                       count=None if policies.missing_media is Policy.FIX else source.__len__,
                       within=source)


def run_checks(source: ExportSource, policies: CheckPolicies, *,
               examples: int = EXAMPLES_PER_CHECK) -> CheckSummary:
    """Every problem of ``source`` under ``policies``, without exporting (``labelport check``):
    the whole stream is read and a ``fail`` is counted, not raised, so one run reports all."""
    checker = _Checker(source.schema, policies, stop_on_fail=False, examples=examples)
    for record in source.records():
        checker.record(record)
    return checker.summary()


_REMOTE = "remote"


def _media_problem(record: ItemRecord, access: MediaAccess) -> str | None:
    """Why the item's media is missing, `_REMOTE` when it cannot be checked here, or None;
    media ``access`` denies raise (never probed, so nothing is learnt of them)."""
    item = record.item
    if not item.media_uri:
        return "no media URI"
    path = local_media_path(item)
    if path is None:
        access.check_url(item.media_uri, what=f"media of {item.key}")
        return _REMOTE
    path = access.local_file(path, what=f"media of {item.key}")
    if not path.is_file():
        return f"media not found at {item.media_uri!r}"
    return None


def _box_problem(geometry: Box | RotatedBox, min_px: float) -> str | None:
    if isinstance(geometry, Box):
        finite = math.isfinite(geometry.x + geometry.y + geometry.w + geometry.h)
    else:
        finite = math.isfinite(geometry.cx + geometry.cy + geometry.w + geometry.h
                               + geometry.angle_deg)
    if not finite:
        return f"{geometry.kind.value} has a non-finite value"
    if geometry.w < min_px or geometry.h < min_px:
        return (f"{geometry.kind.value} of {geometry.w:g} x {geometry.h:g} px is below the "
                f"minimum side of {min_px:g} px")
    return None


def _value_problem(definition: AttributeDef, value: Any) -> str | None:
    """Why ``value`` does not fit the attribute's type, options or range, or None."""
    kind = definition.type
    if kind is AttributeType.BOOL:
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if kind in (AttributeType.SELECT, AttributeType.STRING):
        if not isinstance(value, str):
            return f"expected a string, got {value!r}"
        if definition.options and value not in definition.options:
            return f"{value!r} is not one of {', '.join(definition.options)}"
        return None
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is AttributeType.INT and not (numeric and float(value).is_integer()):
        return f"expected an integer, got {value!r}"
    if kind is AttributeType.FLOAT and not (numeric and math.isfinite(value)):
        return f"expected a number, got {value!r}"
    if definition.min is not None and value < definition.min:
        return f"{value!r} is below the minimum {definition.min:g}"
    if definition.max is not None and value > definition.max:
        return f"{value!r} is above the maximum {definition.max:g}"
    return None


@dataclass(slots=True)
class _Checker:
    """Runs the checks over one pass of records and tallies what it found."""

    schema: LabelSchema
    policies: CheckPolicies
    stop_on_fail: bool
    examples: int = EXAMPLES_PER_CHECK
    items: int = 0
    annotations: int = 0
    counts: dict[Check, dict[Outcome, int]] = field(default_factory=dict)
    found: dict[Check, list[CheckProblem]] = field(default_factory=dict)
    counter: PassCounter | None = None
    """Where an export's stage counts each problem as it is found."""
    media_access: MediaAccess = field(default_factory=MediaAccess.local)
    namer: FileNamer = field(
        default_factory=lambda: FileNamer(unique_stems=True, keep_folders=True))
    active: frozenset[Check] = field(init=False)
    """The checks not skipped, looked up once: `_on` runs for every annotation."""

    def __post_init__(self) -> None:
        self.active = frozenset(c for c in Check if self.policies.policy(c) is not Policy.SKIP)

    def summary(self) -> CheckSummary:
        return CheckSummary(
            policies=self.policies, items=self.items, annotations=self.annotations,
            counts={c: dict(self.counts[c]) for c in Check if c in self.counts},
            examples={c: tuple(self.found[c]) for c in Check if c in self.found})

    def _problem(self, check: Check, record: ItemRecord, index: int | None, message: str,
                 resolved: Outcome) -> Policy:
        """Tally one problem (raising under ``fail`` in an export) and return the policy.
        ``resolved`` is the outcome under ``fix``, and under ``warn`` for the checks the writers
        resolve themselves (a duplicate name is renamed whatever the policy)."""
        policy = self.policies.policy(check)
        if policy is Policy.FAIL:
            outcome = Outcome.FAILED
        elif policy is Policy.FIX or check in _NO_FIX:
            outcome = resolved
        else:
            outcome = Outcome.WARNED
        problem = CheckProblem(check=check, item=record.item.key, annotation=index,
                               message=message, outcome=outcome)
        if policy is Policy.FAIL and self.stop_on_fail:
            raise ExportCheckError(f"check {check.value} failed on {problem.describe()}; "
                                   f"choose --check {check.value}="
                                   f"{'|'.join(p for p in _valid_policies(check) if p != 'fail')}"
                                   " to export anyway")
        self._tally(check, outcome)
        kept = self.found.setdefault(check, [])
        if len(kept) < self.examples:
            kept.append(problem)
        return policy

    def _tally(self, check: Check, outcome: Outcome) -> None:
        outcomes = self.counts.setdefault(check, {})
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if self.counter is not None:
            self.counter.count(f"check {check.value}: {outcome.value}")

    def _on(self, check: Check) -> bool:
        return check in self.active

    def record(self, record: ItemRecord) -> ItemRecord | None:
        """The record after the checks, or None when ``missing_media=fix`` drops it."""
        self.items += 1
        if self._on(Check.MISSING_MEDIA):
            problem = _media_problem(record, self.media_access)
            if problem == _REMOTE:
                self._tally(Check.MISSING_MEDIA, Outcome.NOT_CHECKED_REMOTE)
            elif problem is not None and self._problem(
                    Check.MISSING_MEDIA, record, None, problem, Outcome.DROPPED) is Policy.FIX:
                return None
        if self._on(Check.DUPLICATE_NAMES):
            self._duplicate_name(record)
        annotations: list[Annotation] = []
        for index, annotation in enumerate(record.annotations):
            self.annotations += 1
            checked = self._annotation(record, index, annotation)
            if checked is not None:
                annotations.append(checked)
        if len(annotations) == len(record.annotations) and all(
                a is b for a, b in zip(annotations, record.annotations, strict=True)):
            return record
        return replace(record, annotations=tuple(annotations))

    def _duplicate_name(self, record: ItemRecord) -> None:
        item = record.item
        original = safe_path(item.path)
        given = self.namer.name(item, record.split or "")
        if given != original:
            self._problem(Check.DUPLICATE_NAMES, record, None,
                          f"{original!r} is taken by an earlier item; written as {given!r}",
                          Outcome.RENAMED)

    def _annotation(self, record: ItemRecord, index: int,
                    annotation: Annotation) -> Annotation | None:
        """The annotation after the checks, in the module's table order; None when dropped."""
        geometry = annotation.geometry
        label_class = self.schema.get(annotation.label)
        if label_class is None and self._on(Check.UNKNOWN_CLASS) and self._problem(
                Check.UNKNOWN_CLASS, record, index,
                f"class {annotation.label!r} is not in the schema", Outcome.DROPPED) is Policy.FIX:
            return None
        if isinstance(geometry, Box | RotatedBox) and self._on(Check.DEGENERATE):
            problem = _box_problem(geometry, self.policies.min_box_px)
            if problem is not None and self._problem(
                    Check.DEGENERATE, record, index, problem, Outcome.DROPPED) is Policy.FIX:
                return None
        if isinstance(geometry, Polygon) and self._on(Check.POLYGON):
            problem = polygon_problem(geometry)
            if problem is not None and self._problem(
                    Check.POLYGON, record, index, f"polygon {problem}",
                    Outcome.DROPPED) is Policy.FIX:
                return None
        if self._on(Check.OUTSIDE):
            self._outside(record, index, annotation)
        if label_class is None or not label_class.attributes:
            return annotation
        attributes = dict(annotation.attributes)
        if self._on(Check.ATTRIBUTE_VALUE):
            for definition in label_class.attributes:
                value = attributes.get(definition.name)
                problem = None if value is None else _value_problem(definition, value)
                if problem is not None and self._problem(
                        Check.ATTRIBUTE_VALUE, record, index, f"{definition.name}: {problem}",
                        Outcome.REMOVED_VALUE) is Policy.FIX:
                    del attributes[definition.name]
        if self._on(Check.REQUIRED_ATTRIBUTE):
            for definition in label_class.attributes:
                if not definition.required or attributes.get(definition.name) is not None:
                    continue
                fill = definition.default is not None
                policy = self._problem(
                    Check.REQUIRED_ATTRIBUTE, record, index,
                    f"required attribute {definition.name!r} is missing",
                    Outcome.FILLED_DEFAULT if fill else Outcome.DROPPED)
                if policy is Policy.FIX and not fill:
                    return None
                if policy is Policy.FIX:
                    attributes[definition.name] = definition.default
        if attributes == annotation.attributes:
            return annotation
        return replace(annotation, attributes=attributes)

    def _outside(self, record: ItemRecord, index: int, annotation: Annotation) -> None:
        item, geometry = record.item, annotation.geometry
        image_wh = (item.width, item.height)
        if is_inside_image(geometry, image_wh=image_wh):
            return
        if isinstance(geometry, Mask):
            message = (f"mask of {geometry.width} x {geometry.height} does not match the "
                       f"{item.width} x {item.height} image")
        else:
            message = (f"{geometry.kind.value} reaches outside the {item.width} x {item.height}"
                       " image")
        self._problem(Check.OUTSIDE, record, index, message, Outcome.WARNED)
