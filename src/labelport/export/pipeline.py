"""The export pipeline as one call: selection -> delta -> class mapping -> split -> video
frames (formats that write images) -> checks -> write -> media -> package -> manifest. Every
stage streams, so memory stays bounded whatever the size of the source (the store, a release,
or a file)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from labelport.domain.source import ExportSource
from labelport.export.checks import CheckPolicies, check
from labelport.export.export_type import ExportType
from labelport.export.frames import FrameSelection, may_hold_videos, video_frames
from labelport.export.mapping import ClassMapping, apply_mapping
from labelport.export.media import MediaMode, PathMode
from labelport.export.media_access import MediaAccess
from labelport.export.package import PackageKind
from labelport.export.releases import Delta, delta_source
from labelport.export.run import ExportResult, run_export
from labelport.export.selection import Selection, select
from labelport.export.splits import SplitPlan, SplitSpec, SplitSummary, apply_plan, plan_splits
from labelport.formats.base import OutsidePolicy, Progress, Report, no_progress
from labelport.formats.registry import get_format


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportRequest:
    """Everything one export asks for; the CLI and the API build it from their options.

    ``selection=None`` exports the source as it is: the default of a lossless format, which
    carries every labelset, status and prediction."""

    format: str
    options: Mapping[str, Any] = field(default_factory=dict)
    selection: Selection | None = field(default_factory=Selection)
    mapping: ClassMapping = field(default_factory=ClassMapping)
    checks: CheckPolicies = field(default_factory=CheckPolicies)
    split: SplitSpec | None = None
    media: MediaMode = MediaMode.NONE
    paths: PathMode = PathMode.RELATIVE
    outside: OutsidePolicy = OutsidePolicy.CLIP
    package: PackageKind = PackageKind.DIR
    password: str | None = None
    name: str | None = None
    since: ReleaseHashes | None = None
    """A delta export: only items added or changed since this release."""
    verify: bool = False
    """Read the artifact back with the format's reader and compare it with what was written
    before publishing it (`labelport.export.verify`)."""
    export_type: ExportType = ExportType.ANNOTATIONS
    """The annotations, the images or both (`labelport.export.export_type`)."""
    media_access: MediaAccess = field(default_factory=MediaAccess.local)
    """Which media the export may read: the operator's, not the user's, choice (the service
    sets its own; the default is the user's own machine)."""
    frames: FrameSelection = FrameSelection.LABELED
    """For formats that write images: which frames of each video become images."""
    frame_step: int = 1
    split_by_frame: bool = False
    """Split a video's frames independently (default: a video's frames share its split)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseHashes:
    """A release's name and its items' content hashes (`Store.release_hashes`)."""

    name: str
    hashes: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedExport:
    """The source after every stage before the writer, with what the stages will record."""

    source: ExportSource
    report: Report
    split: SplitSummary | None
    delta: Delta | None
    split_plan: SplitPlan | None = None
    """The split computed over the whole source (`labelport.jobs.shards` hands it to shards)."""


def prepare(source: ExportSource, request: ExportRequest, *,
            split_plan: SplitPlan | None = None) -> PreparedExport:
    """Chain the stages over ``source``; only the split's light first pass runs here, unless
    ``split_plan`` gives the split already computed over the whole export ``source`` is a
    shard of (its report then belongs to the whole export's, not to this one's)."""
    report = Report()
    staged = source
    if request.selection is not None:
        staged = select(staged, request.selection, report)
    delta = None
    if request.since is not None:  # compared as selected, as the release froze its items
        delta = delta_source(staged, request.since.name, request.since.hashes)
        staged = delta.source
    staged = apply_mapping(staged, request.mapping, report)
    as_frames = not get_format(request.format).video
    frames = partial(video_frames, report=report, selection=request.frames,
                     step=request.frame_step, no_videos=not may_hold_videos(source))
    if as_frames and request.split_by_frame:
        staged = frames(staged)
    plan = None
    if request.split is not None:
        # Before the checks, so the split's first pass does not run them too: the summary's
        # class counts include objects a check drops later (the manifest's counts do not).
        plan = split_plan or plan_splits(staged, request.split, report)
        staged = apply_plan(staged, plan, count=None if split_plan else
                            sum(plan.summary.items.values()))
    if as_frames and not request.split_by_frame:  # a video's frames keep the video's split
        staged = frames(staged)
    staged = check(staged, request.checks, report, media_access=request.media_access)
    return PreparedExport(source=staged, report=report, delta=delta, split_plan=plan,
                          split=plan.summary if plan else None)


def run_pipeline(source: ExportSource, request: ExportRequest, out: Path, *,
                 extra_selection: Mapping[str, Any] | None = None,
                 prepared: PreparedExport | None = None,
                 stored: tuple[str, ...] = (),
                 progress: Progress = no_progress) -> ExportResult:
    """Export ``source`` as ``request`` asks into ``out`` (a folder or an archive file).

    ``extra_selection`` adds to the manifest's selection what the caller chose before the
    pipeline (the project, a release, a delta); pass ``prepared`` when the caller already ran
    `prepare` (to show progress against its size). ``stored``: files an archive holds
    uncompressed (`package.package`)."""
    spec = get_format(request.format)
    ready = prepared or prepare(source, request)
    selection = dict(request.selection.to_json() if request.selection else {"all": True})
    selection.update(extra_selection or {})
    if ready.delta is not None:
        selection["delta"] = ready.delta.to_json()
    if not spec.video:  # videos become these frames (`labelport.export.frames`)
        selection["video_frames"] = {"frames": request.frames.value,
                                     "frame_step": request.frame_step,
                                     "split_by_frame": request.split_by_frame}
    summaries = {
        "class_mapping": request.mapping.to_json(),
        "splits": ({"spec": request.split.to_json(), **ready.split.to_json()}
                   if request.split is not None and ready.split is not None else {}),
        "checks": request.checks.to_json(),
    }
    return run_export(ready.source, spec, out, options=request.options, selection=selection,
                      media=request.media, paths=request.paths, outside=request.outside,
                      package=request.package, password=request.password, stored=stored,
                      name=request.name, report=ready.report, summaries=summaries,
                      progress=progress, media_access=request.media_access, verify=request.verify,
                      export_type=request.export_type)
