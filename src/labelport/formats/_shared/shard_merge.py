"""Merging the shards of a one-file format (COCO, Label Studio, DataGym, labelport's own), and
of the tables and line files other formats write once per split (`concatenate`).

Each shard wrote the format's document from its slice of the items, with one array entry per
line (``\\n`` before the first entry, ``,\\n`` before the others, as the writers do). A merge
streams the shards' files in shard order, line by line, into one document: the header of the
first shard (or one the format rebuilds from every shard's), then each shard's entries with
their ids shifted by the entries of the shards before it (`IdShift`), so no shard's document
is ever held in memory and the bytes are those one writer over all the items writes.
"""

from __future__ import annotations

import codecs
import csv
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from labelport.domain.moments import assume_utc
from labelport.errors import InputError
from labelport.export.prepack import archive_file

_BATCH_BYTES = 1 << 20


def summary_file(shard: Path) -> Path:
    """Where the merge keeps a shard's manifest counts, report counts and options: beside its
    folder, never merged."""
    return shard.with_name(f"{shard.name}.summary.json")


def _summary(shard: Path, key: str) -> dict[str, Any]:
    return dict(orjson.loads(summary_file(shard).read_bytes())[key])


def shard_items(shard: Path) -> int:
    """The records a shard's writer read (its manifest's ``counts.items``): what the 1-based
    image positions of the shards after it start from."""
    return int(_summary(shard, "counts")["items"])


def shard_report(shard: Path) -> dict[str, int]:
    """A shard's report counts (what its writer left out or converted)."""
    return _summary(shard, "report")


def shard_options(shard: Path) -> dict[str, Any]:
    """The format's options a shard was written with (the same in every shard)."""
    return _summary(shard, "options")


def latest(moments: Sequence[str | None]) -> int:
    """The position of the latest of the shards' ISO 8601 moments (a document's creation
    time, which one writer takes as the latest it met): the first on a tie, the first shard's
    when none has one."""
    chosen, when = 0, None
    for position, text in enumerate(moments):
        if text is not None:
            moment = assume_utc(datetime.fromisoformat(text))
            if when is None or moment > when:
                chosen, when = position, moment
    return chosen


def csv_header(path: Path, *, delimiter: str, encoding: str = "utf-8"
               ) -> tuple[list[str], bytes]:
    """A CSV file's header cells and its bytes (a byte order mark and quoted line breaks
    included), read without the rest of the file."""
    raw: list[bytes] = []

    def lines() -> Iterator[str]:
        with path.open("rb") as f:
            for line in f:
                raw.append(line)
                yield line.decode(encoding)

    cells = next(csv.reader(lines(), delimiter=delimiter, strict=True), None)
    if cells is None:
        raise InputError(f"shard file {path} has no header")
    return cells, b"".join(raw)


def has_bom(path: Path) -> bool:
    """Whether the file starts with UTF-8's byte order mark."""
    with path.open("rb") as f:
        return f.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8


def shard_parts(shards: Sequence[Path], *patterns: str) -> dict[str, list[Path]]:
    """Every path matching one of ``patterns`` (globs under a shard's folder) in any shard,
    relative and sorted, with the shards' files of that path in shard order."""
    names = sorted({path.relative_to(shard).as_posix() for shard in shards
                    for pattern in patterns for path in shard.glob(pattern)})
    return {name: [shard / name for shard in shards if (shard / name).exists()]
            for name in names}


def concatenate(shards: Sequence[Path], out: Path, pattern: str, *,
                header: Callable[[Path], bytes] | None = None) -> list[str]:
    """Every file matching ``pattern`` (a glob under a shard's folder) in the shards, once
    under ``out``: the shards' files of that path in shard order, each after its ``header``
    (its first bytes, the same in every shard, written once); the merged files' paths."""
    found = shard_parts(shards, pattern)
    for name, parts in found.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as f:
            head = header(parts[0]) if header is not None else b""
            f.write(head)
            for part in parts:
                with part.open("rb") as src:
                    if src.read(len(head)) != head:
                        raise InputError(f"shard file {part} does not start with the header "
                                         f"of {parts[0]}; export without sharding")
                    shutil.copyfileobj(src, f, _BATCH_BYTES)
    return list(found)


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


def write_lines(f: IO[bytes], src: IO[bytes], *, start: int = 0) -> int:
    """`write_entries` of the lines of ``src`` (a spool of one entry per line, each ending
    with ``\n``), a megabyte at a time: each block's line breaks become the entries'
    separators in one ``bytes.replace``, where a loop per line costs ~1 us each. The number
    of entries written in all."""
    n, carry = start, b""
    while True:
        block = src.read(_BATCH_BYTES)
        data = carry + block
        cut = data.rfind(b"\n") + 1 if block else len(data)
        whole, carry = data[:cut], data[cut:]
        if whole:
            if not whole.endswith(b"\n"):  # a last line without its line break
                whole += b"\n"
            f.write(b"\n" if n == 0 else b",\n")
            f.write(whole[:-1].replace(b"\n", b",\n"))
            n += whole.count(b"\n")
        if not block:
            return n


@contextmanager
def opened_after(path: Path, opening: bytes | None) -> Iterator[IO[bytes]]:
    """The file open after its line ``opening`` (None: after its first line)."""
    with path.open("rb") as src:
        for line in src:
            if opening is None or line.rstrip(b"\n") == opening:
                yield src
                return
    raise InputError(f"shard file {path} has no line {(opening or b'').decode()!r}")


def copy_entries(f: IO[bytes], src: IO[bytes], closing: bytes, *, written: int, where: Path,
                 shift: IdShift | None = None, offsets: tuple[int, ...] = ()) -> int:
    """Copy the entries of an array, from ``src`` (open after the array's opening line) up to
    its line ``closing``, after ``written`` entries already in ``f``; their leading ids shifted
    by ``offsets``. Read a megabyte at a time and cut after its last whole line (an entry is
    one line: JSON escapes line breaks in strings, so only the closing line is ``closing``).
    The entries written in all."""
    end = b"\n" + closing + b"\n"
    carry = b"\n"  # the line break before the first line, so the closing line is found alike
    first = True
    while True:
        block = src.read(_BATCH_BYTES)
        data = carry + block
        found = data.find(end)
        cut = found + 1 if found >= 0 else data.rfind(b"\n") + 1
        if found < 0 and not block:
            raise InputError(f"shard file {where} ended before its line {closing.decode()!r}")
        chunk, carry = data[1:cut], data[cut - 1:]  # whole lines; the next starts after "\n"
        if chunk:
            lines = chunk.count(b"\n")
            if shift is not None:
                chunk = shift.sub(chunk, offsets, lines=lines, where=where)
            # each line ends with ",\n" but the array's last: its "\n" is written only when
            # another line follows (b"\n" + the next chunk), never after the shard's last
            f.write((b"\n" if written == 0 else b",\n") if first else b"\n")
            f.write(memoryview(chunk)[:-1])
            first = False
            written += lines
        if found >= 0:
            return written


def merge_entries(parts: Sequence[Path], target: Path, *, opening: bytes | None,
                  closing: bytes, shift: IdShift | None = None,
                  offsets: Sequence[int] | None = None) -> list[int]:
    """A document of one array: the first part's lines up to its line ``opening`` (None: its
    first line opens the array), every part's entries in order, then the line ``closing``.
    With ``shift``, each part's entries have their leading id shifted by its ``offsets``
    (default: the entries of the parts before it, for ids that number the array's entries).
    The entries before each part."""
    before: list[int] = []
    with archive_file(target) as f:
        head = read_lines(parts[0])
        first = next(head)
        if opening is None:
            f.write(first)
        else:
            f.write(first + b"\n")
            for line in until(head, opening, where=parts[0]):
                f.write(line + b"\n")
            f.write(opening)
        written = 0
        for i, part in enumerate(parts):
            before.append(written)
            by = (written if offsets is None else offsets[i],)
            with opened_after(part, opening) as src:
                written = copy_entries(f, src, closing, written=written, where=part,
                                       shift=shift, offsets=by)
        f.write(b"\n" + closing + b"\n")
    return before


class IdShift:
    """Adds offsets to the integer fields each entry starts with, as orjson writes them
    (``IdShift("id", "image_id")`` on ``{"id":3,"image_id":1,...``), without decoding the rest
    of the entries."""

    def __init__(self, *keys: str) -> None:
        if not 1 <= len(keys) <= 2:
            raise ValueError("IdShift shifts one or two leading fields")
        fields = [b'"' + key.encode() + b'":' for key in keys]
        # anchored on the line break before each entry (the chunk gets one in front): a
        # literal to find, where a (?m)^ makes the engine try every position
        self._pattern = re.compile(rb"\n\{" + b",".join(f + rb"(\d+)" for f in fields))
        self._prefixes = [b"\n{" + fields[0], *(b"," + f for f in fields[1:])]
        self._keys = ", ".join(keys)

    def sub(self, chunk: bytes, offsets: tuple[int, ...], *, lines: int, where: Path) -> bytes:
        """``chunk``, whole lines of one entry each, with their ids shifted: split around the
        ids (in C), each id rewritten by a list comprehension, joined again."""
        if not any(offsets):
            return chunk
        parts = self._pattern.split(b"\n" + chunk)
        stride = len(self._prefixes) + 1
        found = (len(parts) - 1) // stride
        if found != lines:
            raise InputError(f"shard file {where}: {lines - found} entries do not start with "
                             f"the integer fields {self._keys}")
        for field, (prefix, offset) in enumerate(zip(self._prefixes, offsets, strict=True),
                                                 start=1):
            parts[field::stride] = [b"%b%d" % (prefix, int(digits) + offset)
                                    for digits in parts[field::stride]]
        return b"".join(parts)[1:]
