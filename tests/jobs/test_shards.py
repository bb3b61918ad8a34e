"""Sharded exports give the bytes of the export written whole, for every format that declares
a merge (`FormatSpec.merge_shards`): the sample project and a generated one (empty images,
three datasets, one path in two datasets, unicode names), exported by the local runner whole
and in shards of 3 items, with no split, a random and a stratified one; every file's bytes and
the manifest's content hash compared. A format without a merge runs whole, and so does a
selection whose file names shards would rename otherwise than one writer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from labelport.domain.model import ItemRecord, TaskStatus
from labelport.domain.schema import LabelSchema
from labelport.domain.source import MemorySource
from labelport.formats.base import merge_by_copying
from labelport.formats.registry import get_format, writable_formats
from labelport.jobs import shards
from labelport.jobs.config import JobSettings
from labelport.jobs.local import LocalRunner
from labelport.sample import build_sample
from labelport.store import Store
from labelport.store.jobs import JobInfo, JobStatus

from .conftest import PROJECT, artifact_files, finished, wait_for

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

SHARD = 3
GENERATED = "generated"
SPLITS: dict[str, dict[str, Any] | None] = {
    "whole": None,
    "random": {"fractions": {"train": 0.5, "val": 0.3, "test": 0.2}, "seed": 3},
    "stratified": {"fractions": {"train": 0.6, "val": 0.4}, "strategy": "stratified"},
}
MERGED = sorted(spec.name for spec in writable_formats() if spec.merge_shards is not None)


def generated(media: Path) -> MemorySource:
    """27 items cycling the sample's over three datasets (one named in unicode), every third
    without objects, the first two one path (``dup/x.png``) in two datasets (one shard)."""
    sample = build_sample(media)
    datasets = ("train-pool", "field", "ünïcode-set")
    records: list[ItemRecord] = []
    for i in range(27):
        base = sample.items[i % len(sample.items)]
        path = "dup/x.png" if i < 2 else f"gen/{i:02d}_{base.item.file_name}"
        item = replace(base.item, dataset=datasets[i % 3], path=path, id=None)
        records.append(replace(base, item=item, annotations=() if i % 3 == 2 else
                               base.annotations))
    declared = (*sample.datasets, replace(sample.datasets[0], name=datasets[2]))
    return replace(sample, items=tuple(records), datasets=declared)


@pytest.fixture
def store(sample_store: Store, tmp_path: Path) -> Store:
    source = generated(tmp_path / "generated-media")
    sample_store.create_project(GENERATED, LabelSchema(), description="")
    sample_store.import_source(GENERATED, source)
    return sample_store


def run(store: Store, settings: JobSettings, requests: list[tuple[str, dict[str, Any]]],
        *, shard_items: int) -> list[JobInfo]:
    ids = {p.name: p.id for p in store.list_projects()}
    media = Path(settings.artifacts).parent  # the sample's and the generated project's
    # Not the recovery of stale jobs: a loaded machine must not requeue a slow shard here.
    runner = LocalRunner(store, replace(settings, shard_items=shard_items,
                                        media_roots=str(media), stale_seconds=60))
    runner.start()
    try:
        jobs = [store.jobs.create(ids[project], request) for project, request in requests]
        for job_id in jobs:
            runner.submit(job_id)
        return [wait_for(store, job_id, finished, timeout=120) for job_id in jobs]
    finally:
        runner.stop()


EVERY_STATUS = {"statuses": [status.value for status in TaskStatus]}
VARIANTS: list[dict[str, Any]] = [
    {"format": "labelstudio", "options": {"files": "per_task"}},
    {"format": "labelport", "options": {"jsonl": True}},
    {"format": "coco", "media": "copy"},
    {"format": "csv", "options": {"metadata": True, "empty_rows": False},
     "selection": EVERY_STATUS},
    {"format": "tsv", "options": {"columns": "label,image_id", "encoding": "utf-8-sig"}},
    {"format": "labelstudio_min", "selection": EVERY_STATUS},
    {"format": "innotescus", "selection": EVERY_STATUS},
    {"format": "parquet", "options": {"row_group_size": 2}, "split": None},
    {"format": "parquet", "options": {"layout": "imagefolder"}, "media": "copy"},
]
"""Options with merges of their own, run with the random split unless they say. With the
skipped items: csv's header has the metadata keys of every shard (a skipped item alone has
``skip_reason``), its image ids count the images of earlier shards without a row;
labelstudio_min's annotation ids count the cancelled annotations of earlier shards, which it
leaves out; innotescus's metadata fields are every shard's; parquet's row groups of 2 rows
are cut across shards of 3 items (a shard's second group keeps the shard's ids)."""


def requests_for(formats: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Formats with a merge of their own: both projects, every split; formats merged by
    copying (one code path): the generated project, whole and stratified."""
    out = []
    for format in formats:
        copied = get_format(format).merge_shards is merge_by_copying
        for project in (GENERATED,) if copied else (PROJECT, GENERATED):
            for name, split in SPLITS.items():
                if copied and name == "random":
                    continue
                request: dict[str, Any] = {"format": format, "name": "x"}
                if split is not None:
                    request["split"] = split
                out.append((project, request))
    return out + [(project, {"name": "x", "split": SPLITS["random"], **variant})
                  for project in (PROJECT, GENERATED) for variant in VARIANTS]


@sqlite_only
def test_every_mergeable_format_shards_into_the_bytes_of_one_export(
        store: Store, settings: JobSettings) -> None:
    requests = requests_for(MERGED)
    whole = run(store, settings, requests, shard_items=0)
    sharded = run(store, settings, requests, shard_items=SHARD)
    failures = []
    for (project, request), one, merged in zip(requests, whole, sharded, strict=True):
        what = f"{request['format']} of {project} split {request.get('split')}"
        assert one.shards == 0
        expected, one_manifest = artifact_files(settings, one)
        if merged.status is not JobStatus.COMPLETED:
            failures.append(f"{what}: {merged.error}")
            continue
        got, merged_manifest = artifact_files(settings, merged)
        if merged.shards < 2:
            failures.append(f"{what}: {merged.shards} shards, "
                            f"{merged_manifest['report']['messages']}")
            continue
        differing = sorted(n for n in expected.keys() | got.keys()
                           if expected.get(n) != got.get(n))
        if differing or merged_manifest["content_hash"] != one_manifest["content_hash"]:
            failures.append(f"{what}: differs in {differing[:5]}")
        elif merged_manifest["counts"] != one_manifest["counts"]:
            failures.append(f"{what}: counts differ")
        elif merged_manifest["splits"] != one_manifest["splits"]:
            failures.append(f"{what}: split summaries differ")
        elif merged_manifest["report"]["counts"] != one_manifest["report"]["counts"]:
            failures.append(f"{what}: report counts differ")
    assert not failures, "\n".join(failures)


@sqlite_only
def test_a_format_without_a_merge_and_names_shards_would_rename_run_whole(
        store: Store, settings: JobSettings, tmp_path: Path) -> None:
    unmerged = next(s.name for s in writable_formats() if s.merge_shards is None)
    clash = generated(tmp_path / "clash-media")
    far = replace(clash.items[20].item, path="far/x.png")  # another shard than dup/x.png
    store.create_project("clash", LabelSchema(), description="")
    store.import_source("clash", replace(clash, items=(
        *clash.items[:20], replace(clash.items[20], item=far), *clash.items[21:])))
    no_merge, renamed = run(store, settings, [(PROJECT, {"format": unmerged}),
                                              ("clash", {"format": "coco"})], shard_items=SHARD)
    assert no_merge.status is JobStatus.COMPLETED and no_merge.shards == 0, no_merge.error
    assert renamed.status is JobStatus.COMPLETED and renamed.shards == 0, renamed.error
    _, manifest = artifact_files(settings, renamed)
    assert any("not sharded" in m and "far/x.png" in m
               for m in manifest["report"]["messages"]), manifest["report"]["messages"]


def test_shardable_formats_are_declared() -> None:
    """Every writable format says how it shards, or why it cannot."""
    for spec in writable_formats():
        assert (spec.merge_shards is None) == bool(spec.unshardable), spec.name


def test_a_shard_holds_what_its_merge_rewrites_uncompressed() -> None:
    """COCO's merge writes its JSONs again: deflating them in the shard would be wasted;
    a format merged by copying keeps every file as the export's archive holds it."""
    assert shards.rewritten(get_format("coco")) == ("annotations/instances_*.json",)
    assert shards.rewritten(get_format("voc")) == ()
