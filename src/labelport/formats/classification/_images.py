"""What ``classification_csv`` and ``hf_imagefolder`` share: the images of an export, placed in
``{split}/`` beside their label file, each with its labels, and the image a label file names."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelport.domain.geometry import GeometryKind
from labelport.domain.model import Item
from labelport.domain.source import ExportSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.image_files import ImageFolder, find_image, image_item
from labelport.formats._shared.image_labels import (
    CLASSIFICATION_OPTION,
    LabelSource,
    image_labels,
    label_source,
    record_class_order,
)
from labelport.formats._shared.naming import FileNamer, safe_file_name
from labelport.formats.base import (
    Conventions,
    FormatSpec,
    MergeShards,
    OptionSpec,
    Reader,
    WriteContext,
    Writer,
)

MULTI_LABEL_OPTION = OptionSpec(
    name="multi_label", type=bool, default=False,
    help="several labels per image (one-hot columns, label lists); on for a checkbox "
         "classification")
_PROGRESS_EVERY = 200


@dataclass(frozen=True, slots=True)
class LabelledImage:
    split: str
    reference: str
    """The image as the label file names it: relative to the ``relative_to`` of `images`."""
    labels: tuple[str, ...]


def labels_and_multi(source: ExportSource, options: Mapping[str, Any]) -> tuple[LabelSource,
                                                                                  bool]:
    """The export's label source and whether it writes several labels per image."""
    labels_from = label_source(source.schema, options)
    return labels_from, labels_from.multi_label or bool(options.get("multi_label"))



def images(source: ExportSource, out_dir: Path, ctx: WriteContext, *, labels_from: LabelSource,
           multi_label: bool, format_name: str,
           relative_to_split: bool) -> Iterator[LabelledImage]:
    """Each record's image placed at ``{split}/{name}`` with its labels, in record order; the
    reference is relative to the split folder (``relative_to_split``) or to ``out_dir``. A
    second label on a single-label export is refused."""
    record_class_order(ctx, labels_from.classes, rule=f"schema order of {labels_from.described}")
    namer = FileNamer(report=ctx.report)
    done = 0
    for done, record in enumerate(source.records(), start=1):
        split = safe_file_name(record.split or "train")
        name = namer.name(record.item, split)
        target = out_dir / split / name
        ctx.place_media(record.item, target)
        labels = image_labels(record, labels_from, ctx)
        if len(labels) > 1 and not multi_label:
            raise UnsupportedError(
                f"{record.item.dataset}/{record.item.path} has {len(labels)} labels "
                f"({', '.join(labels)}); export {format_name} with multi_label=true")
        if not labels:
            ctx.report.count("image without a label")
        relative = name if relative_to_split else f"{split}/{name}"
        yield LabelledImage(split, ctx.media_reference(record.item, target, relative), labels)
        if done % _PROGRESS_EVERY == 0:
            ctx.progress(done)
    ctx.progress(done)


def labelled_item(reference: str, *, folder: Path, images: ImageFolder | None,
                  origin: str) -> Item:
    """The item of the image a label file names (relative to ``folder``, or absolute), else
    the file of its stem in the ``images`` option's folder; its size from its header."""
    if not reference or "\0" in reference:
        raise InputError(f"{origin}: expected an image file name, got {reference!r}")
    image = find_image(folder / reference, images)
    if image is None:
        raise InputError(f"{origin}: image {reference!r} not found (the size of an image comes "
                         "from its file; give the images folder with option images)")
    return image_item(image)


def spec(*, name: str, title: str, extension: str, index_base: str, notes: str, writer: Writer,
         reader: Reader, merge_shards: MergeShards, merge_reads: tuple[str, ...]) -> FormatSpec:
    """The declaration of a label file beside its images: image-level labels only, splits,
    media, options ``classification`` and ``multi_label``; shards merge by ``merge_shards``
    (the label files, ``merge_reads``), their images by copying."""
    return FormatSpec(
        name=name, title=title, extension=extension, geometries=frozenset({GeometryKind.NONE}),
        conventions=Conventions(coordinates="none: image-level labels only",
                                index_base=index_base, notes=notes),
        splits=True, media=True, options=(CLASSIFICATION_OPTION, MULTI_LABEL_OPTION),
        writer=writer, reader=reader, merge_shards=merge_shards, merge_reads=merge_reads)
