"""``imagefolder``: one folder per class, ``{split}/{class}/{image}``, as torchvision's
``ImageFolder``, Keras' ``image_dataset_from_directory`` and Ultralytics classify read it.
The layout, its conventions and the reader are `labelport.formats._shared.class_folders`'s
(``yolo`` with ``task=classify`` writes the same folders); labels come from image-level classes
or the ``classification`` option (`labelport.formats._shared.image_labels`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labelport.domain.geometry import GeometryKind
from labelport.domain.source import ExportSource
from labelport.formats._shared import class_folders
from labelport.formats._shared.image_labels import CLASSIFICATION_OPTION
from labelport.formats.base import Conventions, FormatSpec, WriteContext, merge_by_copying

CONVENTIONS = Conventions(
    coordinates="none: image-level labels only",
    index_base="class index from 0 in sorted folder order (torchvision's ImageFolder), listed "
               "in classes.tsv",
    notes="{split}/{class}/{image}; every class has a folder in every split; one label per "
          "image (multi-label refused); images without a label in unlabeled/{split}/ or left "
          "out (option unlabeled)",
)


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    class_folders.write(source, out_dir, options, ctx, format_name="imagefolder")


SPEC = FormatSpec(
    name="imagefolder",
    title="Image classification folders (torchvision ImageFolder, Keras)",
    extension="",
    geometries=frozenset({GeometryKind.NONE}),
    conventions=CONVENTIONS,
    splits=True,
    media=True,
    options=(CLASSIFICATION_OPTION, class_folders.UNLABELED_OPTION),
    writer=write,
    reader=class_folders.read,
    merge_shards=merge_by_copying,
)
