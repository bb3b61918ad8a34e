"""``classification_csv``: image labels in a CSV table per split, as Kaggle-style training
scripts and pandas read them.

Layout::

    {split}.csv          one row per image, in record order
    {split}/{image}      with media copied or linked

Rows:
- single-label (default): ``image,label``; ``label`` is the class name, empty for an image
  without a label;
- multi-label (option ``multi_label=true``, on for a checkbox classification):
  ``image,<class 1>,...,<class n>``, one-hot: ``1`` when the image has that class, else ``0``;
  the columns are the classes in schema order.

``image`` is the image's path relative to the CSV (``train/a.jpg``), or absolute with
``--paths absolute``. Labels come from image-level classes or the ``classification`` option
(`labelport.formats._shared.image_labels`); an image with several labels in a single-label
export is refused. Files are UTF-8, comma-separated, quoted where needed (RFC 4180), LF.

Reading takes the export folder (each ``*.csv`` is a split named by its stem) or one CSV file
(no split). A header ``image,label`` is single-label; ``image`` and other columns are one-hot
columns, each cell ``0`` or ``1``. Classes are the one-hot columns in their order, else the
labels found, sorted. Images are looked up relative to the CSV, then by name in the ``images``
option's folder; their size comes from their header. Items get dataset ``default``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from labelport.domain.model import ItemRecord, ProjectInfo
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.image_files import ImageFolder
from labelport.formats._shared.image_labels import (
    labelled_record,
    read_label_source,
    read_schema,
)
from labelport.formats._shared.input_files import read_text
from labelport.formats._shared.shard_merge import concatenate, csv_header
from labelport.formats.base import WriteContext
from labelport.formats.classification._images import (
    images,
    labelled_item,
    labels_and_multi,
    spec,
)

IMAGE_COLUMN = "image"
LABEL_COLUMN = "label"
_MERGED = "*.csv"
"""The split tables `merge_shards` concatenates, as a glob under a shard's folder."""


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    labels_from, multi = labels_and_multi(source, options)
    if multi and IMAGE_COLUMN in labels_from.classes:
        raise UnsupportedError(f"classification_csv cannot have a one-hot column for class "
                               f"{IMAGE_COLUMN!r}: it names the image column; rename the class")
    header = [IMAGE_COLUMN, *labels_from.classes] if multi else [IMAGE_COLUMN, LABEL_COLUMN]
    out_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        tables: dict[str, Any] = {}
        for image in images(source, out_dir, ctx, labels_from=labels_from, multi_label=multi,
                            format_name="classification_csv", relative_to_split=False):
            table = tables.get(image.split)
            if table is None:
                file = stack.enter_context((out_dir / f"{image.split}.csv").open(
                    "w", encoding="utf-8", newline=""))
                table = tables[image.split] = csv.writer(file, lineterminator="\n")
                table.writerow(header)
            if multi:
                held = set(image.labels)
                table.writerow([image.reference,
                                *("1" if c in held else "0" for c in labels_from.classes)])
            else:
                table.writerow([image.reference, image.labels[0] if image.labels else ""])


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """Each split's table: its header once, then the shards' rows in shard order."""
    return concatenate(shards, out, _MERGED,
                       header=lambda table: csv_header(table, delimiter=",")[1])


# --- reading ---------------------------------------------------------------------------------


def _rows(file: Path, text: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """Each non-empty row with its line number; `InputError` naming the line."""
    reader = csv.reader(text, strict=True)
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise InputError(f"{file} line {line}: malformed CSV ({error})") from None
        if row:
            yield line, row


def _read_table(file: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the rows of one CSV, checked for shape."""
    text = read_text(file, "utf-8-sig")
    rows = list(_rows(file, io.StringIO(text, newline="")))
    if not rows:
        raise InputError(f"{file}: the file is empty; expected a header image,label or "
                         "image,<class>,... (one-hot)")
    header = rows[0][1]
    if not header or header[0] != IMAGE_COLUMN or len(header) < 2:
        raise InputError(f"{file} line 1: expected the header image,label or image,<class>,... "
                         f"(one-hot), got {','.join(header)!r}")
    if len(set(header)) != len(header):
        raise InputError(f"{file} line 1: a column appears more than once")
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise InputError(f"{file} line {line}: {len(row)} fields, but the header has "
                             f"{len(header)}")
    return header, rows[1:]


def _row_labels(file: Path, line: int, header: list[str], row: list[str]) -> tuple[str, ...]:
    if header == [IMAGE_COLUMN, LABEL_COLUMN]:
        return (row[1],) if row[1] else ()
    for column, cell in zip(header[1:], row[1:], strict=True):
        if cell not in ("0", "1"):
            raise InputError(f"{file} line {line}, column {column!r}: expected 0 or 1 "
                             f"(one-hot), got {cell!r}")
    return tuple(c for c, cell in zip(header[1:], row[1:], strict=True) if cell == "1")


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    root = Path(path)
    if root.is_file():
        files: list[tuple[str | None, Path]] = [(None, root)]
    elif root.is_dir():
        files = [(f.stem, f) for f in sorted(root.glob("*.csv"))]
        if not files:
            raise InputError(f"{root}: no *.csv file here; expected {{split}}.csv tables")
    else:
        raise InputError(f"{root}: no such file or folder")
    tables = [(split, file, *_read_table(file)) for split, file in files]
    one_hot = [h[1:] for _, _, h, _ in tables if h != [IMAGE_COLUMN, LABEL_COLUMN]]
    if one_hot and (len(one_hot) != len(tables) or any(h != one_hot[0] for h in one_hot)):
        raise InputError(f"{root}: the tables have different columns (image,label or the same "
                         "one-hot columns in every table)")
    if one_hot:
        classes = one_hot[0]
    else:
        classes = sorted({r[1] for *_, rows in tables for _, r in rows if r[1]})
    labels_from = read_label_source(classes, options, multi_label=bool(one_hot))
    given = options.get("images")
    fallback = ImageFolder(Path(given)) if given else None
    count = sum(len(rows) for *_, rows in tables)

    def records() -> Iterator[ItemRecord]:
        for split, file, header, rows in tables:
            for line, row in rows:
                origin = f"{file} line {line}"
                item = labelled_item(row[0], folder=file.parent, images=fallback, origin=origin)
                yield labelled_record(item, _row_labels(file, line, header, row), labels_from,
                                      split=split)

    return StreamSource(project=ProjectInfo(name=root.stem if root.is_file() else root.name),
                        schema=read_schema(labels_from), count=count, open_records=records)


SPEC = spec(
    name="classification_csv",
    title="Image classification table (CSV: image,label or one-hot)",
    extension="csv",
    index_base="one-hot columns in schema order",
    notes="{split}.csv; image,label (label empty without one) or image,<class>... with 0/1 "
          "cells (multi_label); image paths relative to the CSV",
    writer=write,
    reader=read,
    merge_shards=merge_shards,
    merge_reads=(_MERGED,),
)
