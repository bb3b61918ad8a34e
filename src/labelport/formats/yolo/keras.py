"""YOLO Keras (``yolo_keras``): the annotation file of qqwweee/keras-yolo3, with the file names
of the Innotescus seed.

Layout::

    yolokeras.annotations.txt   one line per image: path then its boxes, space-separated
                                images/train/a.jpg 100,200,260,290,0 190,40,270,90,0
    yolokeras.classes.txt       one class name per line, line i = class index i
    images/{split}/a.jpg        the images (with --media copy|symlink)

Each box is ``x_min,y_min,x_max,y_max,class`` with no spaces: absolute pixels, origin at the
top-left corner of the image, ``x_max = x + w`` and ``y_max = y + h`` (the edge after the box, as
labelport's boxes and the seed's other formats), each corner rounded to the nearest whole pixel
with halves up. Class index from 0 in the schema's order (every class). An image without
objects is a line with its path alone. Paths are relative to the annotation file; whitespace in
file names becomes ``_`` (the line is split on whitespace), counted. Any other geometry becomes
its bounding box (counted); image-level classes, attributes, tags and scores are not carried
(counted).

With ``--paths absolute`` the path is `WriteContext.media_reference`'s: the image's absolute
path in the published export, or without media where the source is. keras-yolo3 splits the line
on whitespace and opens the first field as it is, so no escape would reach it: an absolute path
with whitespace is refused (`UnsupportedError`: use ``--paths relative`` or an export folder
without spaces); a URL's whitespace is percent-encoded (the same URL), counted.

The reader takes the folder (or the annotation file); image sizes come from the images'
headers, at the path of the line (absolute paths and URLs as written, else relative to the
annotation file) or, by file name, in the export's ``images/{split}/`` and the ``images``
option's folder. Items get dataset ``default``, their file name as path, and the split of an
``images/{split}/`` path inside the export.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from labelport.domain.geometry import Box, GeometryKind
from labelport.domain.model import Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.image_files import (
    ImageFolder,
    find_image,
    image_item,
    is_absolute_reference,
    is_url,
    local_reference,
    reference_name,
)
from labelport.formats._shared.naming import FileNamer, safe_file_name
from labelport.formats.base import Conventions, FormatSpec, WriteContext, merge_by_copying
from labelport.formats.yolo import _rows as rows

ANNOTATIONS_FILE = "yolokeras.annotations.txt"
CLASSES_FILE = "yolokeras.classes.txt"
PROGRESS_EVERY = 100
_WHITESPACE = re.compile(r"\s")


def no_whitespace(name: str) -> str:
    return _WHITESPACE.sub("_", name)


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    schema = source.schema
    indices = rows.class_indices(schema)
    namer = FileNamer(report=ctx.report)
    done = 0
    with (out_dir / ANNOTATIONS_FILE).open("w", encoding="utf-8") as annotations:
        for record in source.records():
            split = no_whitespace(safe_file_name(record.split or "train"))
            item = record.item
            if _WHITESPACE.search(item.file_name):
                ctx.report.count("renamed: whitespace in file name")
                item = replace(item, path=no_whitespace(item.file_name))
            name = namer.name(item, split)
            target = out_dir / "images" / split / name
            ctx.place_media(record.item, target)
            fields = [_line_path(record.item, target, f"images/{split}/{name}", ctx)]
            for index, box, annotation in rows.detection_boxes(record, schema=schema, ctx=ctx,
                                                               indices=indices):
                fields.append(rows.box_to_keras_field(box, class_index=index))
                rows.count_not_carried(ctx, annotation)
            annotations.write(" ".join(fields) + "\n")
            done += 1
            if done % PROGRESS_EVERY == 0:
                ctx.progress(done)
    (out_dir / CLASSES_FILE).write_text("".join(f"{n}\n" for n in schema.class_names),
                                        encoding="utf-8")
    ctx.progress(done)


def url_without_whitespace(url: str) -> str:
    """``url`` with whitespace percent-encoded: the same resource, one field of the line."""
    return _WHITESPACE.sub(lambda match: quote(match.group()), url)


def _line_path(item: Item, target: Path, relative: str, ctx: WriteContext) -> str:
    """The first field of the image's line (see the module docstring for whitespace)."""
    reference = ctx.media_reference(item, target, relative)
    if not _WHITESPACE.search(reference):
        return reference
    if is_url(reference):
        ctx.report.count("converted: whitespace in an image URL percent-encoded")
        return url_without_whitespace(reference)
    raise UnsupportedError(f"yolo_keras cannot name the image of {item.key} as {reference!r}: "
                           "keras-yolo3 splits each line on whitespace; use --paths relative, "
                           "or export to a folder whose path has no spaces")


# --- reading -----------------------------------------------------------------------------------


def _split_of(relative: PurePosixPath) -> str | None:
    parts = relative.parts
    return parts[1] if len(parts) == 3 and parts[0] == "images" else None


def _absolute_image(reference: str, root: Path,
                    extra: ImageFolder | None) -> tuple[str | None, Path | None]:
    """The split and image of a line whose path is absolute or a URL: the file it names, else
    by name in the export's ``images/{split}/`` (an export that moved) or ``extra``. The split
    is known only for an image inside the export."""
    local = local_reference(reference)
    parts = PurePosixPath(local or "").parts
    image = local if local is not None and local.is_file() else None
    if image is None and len(parts) >= 3 and parts[-3] == "images":
        image = find_image(root.joinpath(*parts[-3:]), None)
    if image is None and extra is not None:
        image = extra.find(PurePosixPath(reference_name(reference)).stem)
    if image is None:
        return None, None
    try:
        inside = PurePosixPath(image.resolve().relative_to(root.resolve()).as_posix())
    except ValueError:
        return None, image
    return _split_of(inside), image


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    file = path / ANNOTATIONS_FILE if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"{file}: no such file; a yolo_keras import takes "
                         f"{ANNOTATIONS_FILE} or its folder")
    root = file.parent
    classes_file = root / CLASSES_FILE
    if not classes_file.is_file():
        raise InputError(f"{classes_file}: no such file (the class names, one per line)")
    names = rows.read_class_names(classes_file)
    images_option = options.get("images")
    extra = ImageFolder(Path(images_option)) if images_option else None
    parsed: list[tuple[str | None, Path, list[tuple[int, Box]]]] = []
    for number, line in enumerate(rows.read_lines(file), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{file}:{number}"
        if is_absolute_reference(fields[0]):
            split, image = _absolute_image(fields[0], root, extra)
        else:
            relative = PurePosixPath(fields[0])
            if ".." in relative.parts:
                raise InputError(f"{where}: image path {fields[0]!r} is outside the dataset "
                                 "folder")
            split, image = _split_of(relative), find_image(root / relative, extra)
        if image is None:
            raise InputError(f"{where}: image {fields[0]!r} not found beside the annotation "
                             "file nor in the images folder given")
        boxes = [rows.box_from_keras_field(f, n_classes=len(names), where=where)
                 for f in fields[1:]]
        parsed.append((split, image, boxes))

    def records() -> Iterator[ItemRecord]:
        for split, image, boxes in parsed:
            item = image_item(image)
            annotations = tuple(Annotation(label=names[index], geometry=box)
                                for index, box in boxes)
            yield ItemRecord(item=item, annotations=annotations, split=split)

    return StreamSource(project=ProjectInfo(name=root.name),
                        schema=rows.schema_from_names(names), count=len(parsed),
                        open_records=records)


SPEC = FormatSpec(
    name="yolo_keras",
    title="YOLO Keras (keras-yolo3 annotation file)",
    extension="txt",
    geometries=frozenset({GeometryKind.BOX}),
    conventions=Conventions(
        coordinates="absolute whole pixels, nearest pixel (halves up)",
        index_base="class index from 0 in the schema's order",
        notes="one line per image: path x_min,y_min,x_max,y_max,class ...; x_max = x + w",
    ),
    splits=True,
    media=True,
    writer=write,
    reader=read,
    merge_shards=merge_by_copying,
)
