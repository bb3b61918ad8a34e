"""Merging the shards of a one-file format (COCO, Label Studio, DataGym, labelport's own).

Each shard wrote the format's document from its slice of the items, with one array entry per
line (``\\n`` before the first entry, ``,\\n`` before the others, as the writers do). A merge
streams the shards' files in shard order, line by line, into one document: the header of the
first shard (or one the format rebuilds from every shard's), then each shard's entries with
their ids shifted by the entries of the shards before it (`IdShift`), so no shard's document
is ever held in memory and the bytes are those one writer over all the items writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from labelport.errors import InputError


def read_lines(path: Path) -> Iterator[bytes]:
    """The file's lines without their ``\\n``."""
    with path.open("rb") as f:
        for line in f:
            yield line[:-1] if line.endswith(b"\n") else line


def until(lines: Iterator[bytes], end: bytes, *, where: Path) -> Iterator[bytes]:
    """The lines before the line ``end``, which is consumed."""
    for line in lines:
        if line == end:
            return
        yield line
    raise InputError(f"shard file {where} ended before its line {end.decode()!r}")


def entries(lines: Iterator[bytes], end: bytes, *, where: Path) -> Iterator[bytes]:
    """The entries of an array written one per line, up to its closing line ``end``: each
    line without its separating comma (an entry line ends with ``}`` or ``]`` otherwise)."""
    for line in until(lines, end, where=where):
        yield line[:-1] if line.endswith(b",") else line


def lines_after(path: Path, opening: bytes) -> Iterator[bytes]:
    """The file's lines after its line ``opening``."""
    lines = read_lines(path)
    for _ in until(lines, opening, where=path):
        pass
    return lines


def write_entries(f: IO[bytes], items: Iterable[bytes], *, start: int = 0) -> int:
    """Write array entries one per line as the writers do, after ``start`` entries already
    written; the number written in all."""
    n = start
    for n, entry in enumerate(items, start=start + 1):
        f.write((b"\n" if n == 1 else b",\n") + entry)
    return n


def merge_entries(parts: Sequence[Path], target: Path, *, opening: bytes | None,
                  closing: bytes) -> None:
    """A document of one array whose entries have no ids: the first part's lines up to its
    line ``opening`` (None: its first line opens the array), every part's entries in order,
    then the line ``closing``."""
    with target.open("wb") as f:
        head = read_lines(parts[0])
        if opening is None:
            f.write(next(head))
        else:
            for line in until(head, opening, where=parts[0]):
                f.write(line + b"\n")
            f.write(opening)
        written = 0
        for part in parts:
            lines = read_lines(part)
            if opening is None:
                next(lines)
            else:
                lines = lines_after(part, opening)
            written = write_entries(f, entries(lines, closing, where=part), start=written)
        f.write(b"\n" + closing + b"\n")


class IdShift:
    """Adds offsets to the integer fields an entry starts with, as orjson writes them
    (``IdShift("id", "image_id")`` on ``{"id":3,"image_id":1,...``), without decoding the rest
    of the entry."""

    def __init__(self, *keys: str) -> None:
        fields = b",".join(b'"' + key.encode() + rb'":(\d+)' for key in keys)
        self._pattern = re.compile(rb"\{" + fields)
        self._keys = [key.encode() for key in keys]

    def __call__(self, entry: bytes, *offsets: int) -> bytes:
        if not any(offsets):
            return entry
        match = self._pattern.match(entry)
        if match is None:
            keys = ", ".join(k.decode() for k in self._keys)
            raise InputError(f"shard entry does not start with the integer fields {keys}: "
                             f"{entry[:80]!r}")
        values = (str(int(v) + o).encode() for v, o in zip(match.groups(), offsets,
                                                            strict=True))
        head = b",".join(b'"' + k + b'":' + v for k, v in zip(self._keys, values, strict=True))
        return b"{" + head + entry[match.end():]
