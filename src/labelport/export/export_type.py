"""What an export holds (``--export-type``, Innotescus's "export type"): ``annotations``, the
format's own files (the default); ``datasets``, the images only; or ``both``.

Images go under the general layout Innotescus documents for exports of several datasets,
``datasets/{dataset}/{path}`` (the item's path inside its dataset, folders kept; a clash gets
the dataset and a counter before the extension, recorded as a renaming), placed by the media
stage (``--media copy`` or ``symlink``; ``none`` means copy here, since the images are the
point). ``both`` writes the format once per dataset under ``annotations/{dataset}/``, beside
them, with relative image paths as the format writes them: every format gets the same layout,
which keeps each dataset's annotations apart whatever the format can say about datasets. A
format whose own layout is this one (`FormatSpec.dataset_folders`: Innotescus JSON) writes
``both`` as itself with its images."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from labelport.domain.model import Dataset, ItemRecord, Labelset, ProjectInfo
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource
from labelport.export.verify import Verification, verify_export
from labelport.formats._shared.naming import FileNamer, safe_file_name
from labelport.formats.base import FormatSpec, WriteContext, no_media, relative_reference

DATASETS_DIR = "datasets"
ANNOTATIONS_DIR = "annotations"
_PROGRESS_EVERY = 256


class ExportType(enum.StrEnum):
    ANNOTATIONS = "annotations"
    DATASETS = "datasets"
    BOTH = "both"


class _OneDataset:
    """The records of one dataset of a source (a pass over the source per call)."""

    def __init__(self, inner: ExportSource, dataset: str, count: int) -> None:
        self._inner = inner
        self._dataset = dataset
        self._count = count

    @property
    def project(self) -> ProjectInfo:
        return self._inner.project

    @property
    def schema(self) -> LabelSchema:
        return self._inner.schema

    @property
    def datasets(self) -> tuple[Dataset, ...]:
        return tuple(d for d in self._inner.datasets if d.name == self._dataset)

    @property
    def labelsets(self) -> tuple[Labelset, ...]:
        return self._inner.labelsets

    def __len__(self) -> int:
        return self._count

    def records(self) -> Iterator[ItemRecord]:
        return (r for r in self._inner.records() if r.item.dataset == self._dataset)


def write_datasets(source: ExportSource, out: Path, ctx: WriteContext) -> dict[str, int]:
    """Place every item's image at ``datasets/{dataset}/{path}`` under ``out``; the number of
    items of each dataset, in the order they come."""
    namer = FileNamer(keep_folders=True, report=ctx.report)
    sizes: dict[str, int] = {}
    done = 0
    for done, record in enumerate(source.records(), start=1):
        item = record.item
        folder = safe_file_name(item.dataset)
        ctx.place_media(item, out / DATASETS_DIR / folder / namer.name(item, folder))
        sizes[item.dataset] = sizes.get(item.dataset, 0) + 1
        if done % _PROGRESS_EVERY == 0:
            ctx.progress(done)
    ctx.progress(done)
    return sizes


def write_annotations_by_dataset(source: ExportSource, spec: FormatSpec, out: Path,
                                 options: Mapping[str, Any], ctx: WriteContext,
                                 sizes: Mapping[str, int]) -> None:
    """The format's files for each dataset under ``annotations/{dataset}/`` (no images: they
    are under ``datasets/``)."""
    assert spec.writer is not None
    quiet = replace(ctx, place_media=no_media, media_reference=relative_reference,
                    progress=lambda done: None)
    for dataset, count in sizes.items():
        folder = out / ANNOTATIONS_DIR / safe_file_name(dataset)
        folder.mkdir(parents=True)  # as run_export gives a writer its folder
        spec.writer(_OneDataset(source, dataset, count), folder, options, quiet)


def write_as(export_type: ExportType, spec: FormatSpec, counted: ExportSource,
             source: ExportSource, out: Path, options: Mapping[str, Any],
             ctx: WriteContext) -> dict[str, int]:
    """Write what ``export_type`` asks for under ``out``: ``counted`` is the source whose one
    pass the manifest counts, ``source`` the same records for the per-dataset passes. The
    datasets written and their sizes (empty for ``annotations``)."""
    assert spec.writer is not None
    if export_type is ExportType.ANNOTATIONS or (
            export_type is ExportType.BOTH and spec.dataset_folders):
        spec.writer(counted, out, options, ctx)  # its own layout, with the images for both
        return {}
    sizes = write_datasets(counted, out, ctx)
    if export_type is ExportType.BOTH:
        write_annotations_by_dataset(source, spec, out, options, ctx, sizes)
    return sizes


def verify_by_dataset(source: ExportSource, spec: FormatSpec, out: Path,
                      sizes: Mapping[str, int], **verify: Any) -> Verification:
    """`verify_export` of each dataset's ``annotations/{dataset}/``, added up."""
    total = Verification(reader=spec.name)
    for dataset, count in sizes.items():
        found = verify_export(_OneDataset(source, dataset, count), spec,
                              out / ANNOTATIONS_DIR / safe_file_name(dataset),
                              media_in_export=False, **verify)
        total.items += found.items
        total.objects += found.objects
        total.missing += found.missing
        total.extra += found.extra
        total.expected_differences = found.expected_differences
    return total
