"""From a user's export options to what the pipeline runs: the source and the `ExportRequest`.

The CLI (`labelport export`) and the service (``POST /api/projects/{id}/exports``, export jobs)
give the same options; both come here so an option means the same thing everywhere. The
service's options are JSON (`ExportOptions.from_json`), the form a job keeps in its row and a
worker on another machine rebuilds the export from.

Defaults that depend on the format are decided in `plan_export`: a lossless format (labelport
native) exports every labelset with checks that only warn unless a selection or checks are given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from labelport.domain.model import DEFAULT_LABELSET
from labelport.domain.source import ExportSource
from labelport.errors import InputError
from labelport.export.checks import CheckPolicies, Policy
from labelport.export.export_type import ExportType
from labelport.export.frames import FrameSelection
from labelport.export.mapping import ClassMapping
from labelport.export.media import MediaMode, PathMode
from labelport.export.media_access import MediaAccess
from labelport.export.package import PackageKind, export_name
from labelport.export.pipeline import ExportRequest, ReleaseHashes
from labelport.export.selection import Selection, select
from labelport.export.splits import SplitSpec
from labelport.export.verify import refuse_unverifiable
from labelport.formats.base import FormatSpec, OutsidePolicy, Report
from labelport.formats.registry import get_format

if TYPE_CHECKING:
    from labelport.store.repository import Store

LOSSLESS_CHECKS = CheckPolicies(degenerate=Policy.WARN, polygon=Policy.WARN)
"""A lossless export changes nothing by default: its checks only warn."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportOptions:
    """An export as the user asked for it, before format-dependent defaults.

    ``options`` are the format's options by name (strings as the CLI gives them, or JSON
    values); ``checks`` are ``NAME=POLICY`` strings; ``selection=None`` means no selection
    option was given. ``release`` exports a release instead of the live project;
    ``since_release`` makes a delta export; ``freeze_release`` first freezes the selection as a
    new release of that name and exports it (scheduled delta exports chain these)."""

    format: str
    options: Mapping[str, Any] = field(default_factory=dict)
    selection: Selection | None = None
    mapping: ClassMapping = field(default_factory=ClassMapping)
    checks: tuple[str, ...] = ()
    split: SplitSpec | None = None
    media: MediaMode = MediaMode.NONE
    paths: PathMode = PathMode.RELATIVE
    outside: OutsidePolicy = OutsidePolicy.CLIP
    package: PackageKind = PackageKind.DIR
    password: str | None = None
    name: str | None = None
    release: str | None = None
    since_release: str | None = None
    freeze_release: str | None = None
    verify: bool = False
    """Read the artifact back and compare it with what was written before publishing it."""
    export_type: ExportType = ExportType.ANNOTATIONS
    """The annotations, the images (``datasets``) or both (`labelport.export.export_type`)."""

    def __post_init__(self) -> None:
        if self.name is not None:
            export_name(self.name)  # refused when asked for, not when the job publishes
        if self.verify and self.export_type is ExportType.DATASETS:
            raise InputError("verify reads annotations back, and an export of export type "
                             "datasets has none")
    min_box_px: float | None = None
    """The smallest box side, in pixels, the ``degenerate`` check accepts (None: its default)."""
    frames: FrameSelection = FrameSelection.LABELED
    frame_step: int = 1
    split_by_frame: bool = False
    deliver_to: str | None = None
    """Where an export job copies its artifact once published (`labelport.jobs.delivery`)."""
    webhook: str | None = None
    """The URL an export job POSTs its outcome to (`labelport.jobs.delivery`)."""

    @classmethod
    def from_json(cls, document: Mapping[str, Any], *,
                  default_package: PackageKind = PackageKind.DIR) -> ExportOptions:
        """Options from the service's JSON (see `EXPORT_KEYS`); a wrong key or value is an
        `InputError` naming it."""
        unknown = sorted(set(document) - set(EXPORT_KEYS))
        if unknown:
            raise InputError(f"unknown export option {unknown[0]!r}; valid options: "
                             + ", ".join(EXPORT_KEYS))
        if not isinstance(document.get("format"), str):
            raise InputError("export option `format` is required: a format name such as coco")
        split = document.get("split")
        try:
            return cls(
                format=document["format"],
                options=_mapping(document, "options"),
                selection=selection_from_json(document.get("selection")),
                mapping=ClassMapping(
                    renames=tuple(_mapping(document, "map").items()),
                    drops=tuple(dict.fromkeys(_strings(document, "drop_class"))),
                    class_ids=tuple((str(k), int(v))
                                    for k, v in _mapping(document, "class_ids").items())),
                checks=tuple(f"{k}={v}" for k, v in _mapping(document, "check").items()),
                split=None if split is None else _split(split),
                media=MediaMode(document.get("media", MediaMode.NONE)),
                paths=PathMode(document.get("paths", PathMode.RELATIVE)),
                outside=OutsidePolicy(document.get("outside", OutsidePolicy.CLIP)),
                package=PackageKind(document.get("package", default_package)),
                password=_text(document, "password"),
                name=_text(document, "name"),
                release=_text(document, "release"),
                since_release=_text(document, "since_release"),
                freeze_release=_text(document, "freeze_release"),
                verify=_flag(document, "verify"),
                export_type=ExportType(document.get("export_type", ExportType.ANNOTATIONS)),
                min_box_px=_positive(document, "min_box_px"),
                frames=FrameSelection(document.get("frames", FrameSelection.LABELED)),
                frame_step=_frame_step(document.get("frame_step", 1)),
                split_by_frame=document.get("split_by_frame", False) is True,
                deliver_to=_text(document, "deliver_to"),
                webhook=_text(document, "webhook"))
        except (TypeError, ValueError) as exc:
            raise InputError(f"export options: {exc}") from None


EXPORT_KEYS = ("format", "options", "selection", "map", "drop_class", "class_ids", "check",
               "min_box_px", "split", "media", "paths", "outside", "package", "password", "name",
               "verify", "export_type", "release", "since_release", "freeze_release", "frames",
               "frame_step", "split_by_frame", "deliver_to", "webhook")
"""The keys of the service's export JSON: the CLI's option names, with JSON values."""

SELECTION_KEYS = ("datasets", "labelset", "statuses", "labels", "annotator", "created_after",
                  "created_before", "updated_after", "updated_before", "source", "min_score",
                  "min_width", "max_width", "min_height", "max_height", "file_types", "meta",
                  "ids", "only_annotated")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedExport:
    """What to run: the source, the request, and what the manifest's selection adds."""

    spec: FormatSpec
    source: ExportSource
    request: ExportRequest
    extra_selection: dict[str, Any]


def plan_export(store: Store, project: str, chosen: ExportOptions, *,
                media_access: MediaAccess) -> PlannedExport:
    """The source and the request for ``chosen``; fails early on an unknown project, format,
    release or option. ``media_access`` is which media the export may read: every caller
    says it (the CLI the user's machine, the service its operator's roots)."""
    spec = get_format(chosen.format)
    if spec.writer is None:
        raise InputError(f"format {spec.name!r} can be read but not written")
    if chosen.verify:
        refuse_unverifiable(spec)
    release = chosen.release
    if chosen.freeze_release is not None:
        if release is not None:
            raise InputError("give either `release` (export it) or `freeze_release` (create "
                             "it, then export it), not both")
        picked = chosen.selection or Selection()
        live = store.source(project, labelsets=[picked.labelset])
        store.create_release(project, chosen.freeze_release, select(live, picked, Report()),
                             selection=picked.to_json())
        release = chosen.freeze_release
    if release is not None:
        source: ExportSource = store.release_source(project, release)
    else:
        labelsets = None if chosen.selection is None and spec.lossless else [
            chosen.selection.labelset if chosen.selection else DEFAULT_LABELSET]
        source = store.source(project, labelsets=labelsets)
    since = None if chosen.since_release is None else ReleaseHashes(
        name=chosen.since_release, hashes=store.release_hashes(project, chosen.since_release))
    lossless_default = spec.lossless and not chosen.checks
    checks = LOSSLESS_CHECKS if lossless_default else CheckPolicies.parse(
        chosen.checks, media=chosen.media)
    if chosen.min_box_px is not None:
        checks = replace(checks, min_box_px=chosen.min_box_px)
    request = ExportRequest(
        format=spec.name, options=convert_options(spec, chosen.options),
        selection=chosen.selection if chosen.selection is not None else (
            None if spec.lossless else Selection()),
        mapping=chosen.mapping,
        checks=checks, split=chosen.split, media=chosen.media, paths=chosen.paths,
        outside=chosen.outside,
        package=chosen.package, password=chosen.password, name=chosen.name, since=since,
        verify=chosen.verify, export_type=chosen.export_type,
        media_access=media_access, frames=chosen.frames, frame_step=chosen.frame_step,
        split_by_frame=chosen.split_by_frame)
    return PlannedExport(spec=spec, source=source, request=request,
                         extra_selection={"project": project, "release": release})


def parse_options(spec: FormatSpec, pairs: Sequence[str] | None) -> dict[str, Any]:
    """``NAME=VALUE`` pairs (the CLI's ``--option``), converted to the types the format
    declares."""
    given: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise InputError(f"option {pair!r} is not NAME=VALUE")
        given[name] = raw
    return convert_options(spec, given)


def convert_options(spec: FormatSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """The format's options by name, strings converted to the declared types; unknown names
    are refused with the list of valid ones."""
    declared = {o.name: o for o in spec.options}
    parsed: dict[str, Any] = {}
    for name, value in given.items():
        option = declared.get(name)
        if option is None:
            valid = ", ".join(declared) or "none"
            raise InputError(f"format {spec.name!r} has no option {name!r}; options: {valid}")
        raw = str(value).lower() if isinstance(value, bool) else str(value)
        parsed[name] = _convert(name, raw, option.type, option.choices)
    return parsed


def _convert(name: str, raw: str, kind: type, choices: tuple[str, ...]) -> Any:
    if choices and raw not in choices:
        raise InputError(f"option {name}={raw!r}: expected one of {', '.join(choices)}")
    if kind is bool:
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise InputError(f"option {name}={raw!r}: expected true or false")
    try:
        return kind(raw)
    except ValueError:
        raise InputError(f"option {name}={raw!r}: expected {kind.__name__}") from None


def selection_from_json(value: Any) -> Selection | None:
    """A selection from the service's JSON (an export's or a release's `selection`), keys as
    `SELECTION_KEYS`; None stays None."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InputError("export option `selection` must be an object")
    unknown = sorted(set(value) - set(SELECTION_KEYS))
    if unknown:
        raise InputError(f"unknown selection option {unknown[0]!r}; valid: "
                         + ", ".join(SELECTION_KEYS))
    given = dict(value)
    ids = given.pop("ids", None)
    for key in ("datasets", "statuses", "labels", "file_types", "meta"):
        if isinstance(given.get(key), str):
            given[key] = [given[key]]
    chosen = Selection.from_cli(**{k: v for k, v in given.items() if v is not None})
    if ids is None:
        return chosen
    if not isinstance(ids, list):
        raise InputError("selection `ids` must be a list of item ids or dataset/path keys")
    return replace(chosen, ids=read_ids_list(ids), ids_file="request")


def read_ids_list(ids: Sequence[Any]) -> frozenset[int | str]:
    """Item ids (numbers) and keys (``dataset/path``), as an ids file holds them."""
    chosen: set[int | str] = set()
    for position, value in enumerate(ids):
        text = str(value).strip()
        if "/" in text:
            chosen.add(text)
        elif text.isdigit():
            chosen.add(int(text))
        else:
            raise InputError(f"selection ids[{position}]: {value!r} is not an item id (a "
                             "number) or an item key dataset/path")
    return frozenset(chosen)


def _split(value: Any) -> SplitSpec:
    """``"train=0.8,val=0.2"`` or ``{"fractions": ..., "strategy": ..., "seed": ...,
    "split_field": ..., "group_by": ...}``."""
    if isinstance(value, str):
        return SplitSpec.parse(value)
    if not isinstance(value, Mapping):
        raise InputError("export option `split` must be a string such as "
                         "\"train=0.8,val=0.2\" or an object")
    fractions = value.get("fractions")
    if isinstance(fractions, Mapping):
        fractions = ",".join(f"{k}={v}" for k, v in fractions.items())
    return SplitSpec.parse(fractions, strategy=value.get("strategy", "random"),
                           seed=value.get("seed", 0), split_field=value.get("split_field"),
                           group_by=value.get("group_by"))


def _mapping(document: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key) or {}
    if not isinstance(value, Mapping):
        raise InputError(f"export option `{key}` must be an object")
    return dict(value)


def _strings(document: Mapping[str, Any], key: str) -> list[str]:
    value = document.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"export option `{key}` must be a list of strings")
    return value


def _flag(document: Mapping[str, Any], key: str) -> bool:
    value = document.get(key, False)
    if not isinstance(value, bool):
        raise InputError(f"export option `{key}` must be true or false")
    return value


def _positive(document: Mapping[str, Any], key: str) -> float | None:
    value = document.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                              or not value > 0):
        raise InputError(f"export option `{key}` must be a positive number")
    return None if value is None else float(value)


def _frame_step(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError("export option `frame_step` must be a whole number of 1 or more")
    return value


def _text(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise InputError(f"export option `{key}` must be a string")
    return value
