"""The registered formats, listed explicitly: a format exists for the CLI, the API and the web
page when its name, module and `FormatSpec` attribute are in `FORMATS`. Names are stable public
ids; a test fails when a format module is not listed here, or when a listed spec carries another
name than its entry.

A format's module is imported the first time the format is asked for, so a conversion loads the
two modules it uses and their libraries, not every format's (numpy, pyarrow, Pillow, ...);
`all_formats` imports them all."""

from __future__ import annotations

from importlib import import_module

from labelport.errors import unknown
from labelport.formats.base import FormatSpec

FORMATS: tuple[tuple[str, str, str], ...] = (
    # (format name, module in labelport.formats, the module's FormatSpec attribute)
    ("labelport", "labelport_native", "SPEC"),
    ("coco", "coco.instances", "SPEC"),
    ("csv", "tabular", "CSV_SPEC"),
    ("tsv", "tabular", "TSV_SPEC"),
    ("voc", "voc.detection", "SPEC"),
    ("kitti", "kitti.detection", "SPEC"),
    ("kitti_segmentation", "kitti.segmentation", "SPEC"),
    ("cityscapes", "cityscapes", "SPEC"),
    ("yolo", "yolo.ultralytics", "SPEC"),
    ("yolo_darknet", "yolo.darknet", "SPEC"),
    ("yolo_keras", "yolo.keras", "SPEC"),
    ("parquet", "parquet", "SPEC"),
    ("cvat", "cvat.images", "SPEC"),
    ("cvat_video", "cvat.video", "SPEC"),
    ("mot", "mot", "SPEC"),
    ("labelstudio_video", "labelstudio.video", "SPEC"),
    ("coco_video", "coco.per_video", "SPEC"),
    ("innotescus_video_masks", "video_masks", "SPEC"),
    ("masks_semantic", "masks", "SEMANTIC_SPEC"),
    ("masks_instance", "masks", "INSTANCE_SPEC"),
    ("masks_semantic_color", "masks", "SEMANTIC_COLOR_SPEC"),
    ("masks_instance_color", "masks", "INSTANCE_COLOR_SPEC"),
    ("masks_per_class", "masks", "PER_CLASS_SPEC"),
    ("voc_segmentation", "voc.segmentation", "SPEC"),
    ("coco_panoptic", "coco.panoptic", "SPEC"),
    ("datagym", "datagym", "SPEC"),
    ("segments", "segments", "SPEC"),
    ("innotescus", "innotescus", "SPEC"),
    ("labelstudio", "labelstudio.tasks", "SPEC"),
    ("labelstudio_min", "labelstudio.tasks", "MIN_SPEC"),
    ("imagefolder", "classification.imagefolder", "SPEC"),
    ("classification_csv", "classification.csv_labels", "SPEC"),
    ("hf_imagefolder", "classification.hf_metadata", "SPEC"),
    ("labelme", "labelme", "SPEC"),
)


def _load(name: str, module: str, attribute: str) -> FormatSpec:
    spec = getattr(import_module(f"labelport.formats.{module}"), attribute)
    if not isinstance(spec, FormatSpec) or spec.name != name:
        raise TypeError(f"registry: labelport.formats.{module}.{attribute} is not the "
                        f"FormatSpec named {name!r}")
    return spec


def all_formats() -> tuple[FormatSpec, ...]:
    return tuple(_load(*entry) for entry in FORMATS)


def get_format(name: str) -> FormatSpec:
    """The format called ``name``; `NotFoundError` listing the valid names otherwise."""
    for entry in FORMATS:
        if entry[0] == name:
            return _load(*entry)
    raise unknown("format", name, [entry[0] for entry in FORMATS])


def writable_formats() -> tuple[FormatSpec, ...]:
    return tuple(spec for spec in all_formats() if spec.writer is not None)


def readable_formats() -> tuple[FormatSpec, ...]:
    return tuple(spec for spec in all_formats() if spec.reader is not None)
