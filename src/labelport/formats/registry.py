"""The registered formats, listed explicitly: a format exists for the CLI, the API and the web
page when its module's `SPEC` is in `FORMATS`. Names are stable public ids; a test fails when a
format module is not listed here."""

from __future__ import annotations

from labelport.errors import unknown
from labelport.formats import (
    coco,
    coco_panoptic,
    cvat,
    datagym,
    innotescus,
    kitti,
    labelport_native,
    labelstudio,
    masks,
    parquet,
    segments,
    tabular,
    voc,
    voc_segmentation,
    yolo,
    yolo_darknet,
    yolo_keras,
)
from labelport.formats.base import FormatSpec

FORMATS: tuple[FormatSpec, ...] = (
    labelport_native.SPEC,
    coco.SPEC,
    tabular.CSV_SPEC,
    tabular.TSV_SPEC,
    voc.SPEC,
    kitti.SPEC,
    yolo.SPEC,
    yolo_darknet.SPEC,
    yolo_keras.SPEC,
    parquet.SPEC,
    cvat.SPEC,
    masks.SEMANTIC_SPEC,
    masks.INSTANCE_SPEC,
    masks.SEMANTIC_COLOR_SPEC,
    masks.INSTANCE_COLOR_SPEC,
    masks.PER_CLASS_SPEC,
    voc_segmentation.SPEC,
    coco_panoptic.SPEC,
    datagym.SPEC,
    segments.SPEC,
    innotescus.SPEC,
    labelstudio.SPEC,
    labelstudio.MIN_SPEC,
)


def all_formats() -> tuple[FormatSpec, ...]:
    return FORMATS


def get_format(name: str) -> FormatSpec:
    """The format called ``name``; `NotFoundError` listing the valid names otherwise."""
    for spec in FORMATS:
        if spec.name == name:
            return spec
    raise unknown("format", name, [spec.name for spec in FORMATS])


def writable_formats() -> tuple[FormatSpec, ...]:
    return tuple(spec for spec in FORMATS if spec.writer is not None)


def readable_formats() -> tuple[FormatSpec, ...]:
    return tuple(spec for spec in FORMATS if spec.reader is not None)
