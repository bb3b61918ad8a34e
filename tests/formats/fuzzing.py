"""A seeded mutation fuzzer for every registered reader, shared by the fuzz test
(`tests/formats/test_fuzz.py`, a few hundred inputs per reader) and the long run
(`bench/fuzz_bench.py`, thousands).

Seeds are each readable format's export of the sample project (`labelport.sample`), media
copied. One input is a seed folder with one mutation applied to one of its files: bytes flipped,
cut or inserted (NUL, non-UTF-8), a JSON value swapped for another type, a huge number or a deep
nesting, a text token replaced (5,000 digits, over-long names), a line appended to a text file
(``kpt_shape: [99999999, 3]``), a PNG that declares a huge size, carries a text chunk that
decompresses to megabytes or a broken chunk, and the file replaced by a folder, a symlink loop,
a FIFO or a link to a device. The mutation is undone after the input, so the seed is written
once.

Each input is read and imported through `Store.import_source` into a SQLite store; the outcome
is ``ok`` (the mutation was harmless), ``clean`` (a `LabelportError`), ``crash`` (any other
exception), ``hang`` (over the time limit) or ``store changed`` (a failed import left rows
behind). Each format runs in a worker process with an address-space limit, so an input that asks
for gigabytes fails there (a ``crash``: MemoryError) instead of taking the machine."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import struct
import sys
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MEMORY_LIMIT = 2 << 30
"""Address space of a fuzzing worker (bytes): numpy, Pillow and pyarrow fit well below it."""


@dataclass(slots=True)
class Outcome:
    """What one input did; ``detail`` says the mutation and, for failures, the error."""

    kind: str
    mutation: str
    detail: str = ""


@dataclass(slots=True)
class FormatResult:
    """One format's run: outcomes counted by kind, and the failures in full."""

    format: str
    inputs: int = 0
    seconds: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[Outcome] = field(default_factory=list)
    slowest: float = 0.0


# --- seeds --------------------------------------------------------------------------------

def write_seeds(root: Path) -> list[str]:
    """Every readable format's export of the sample project in ``root / name``, media copied;
    returns the names. A format that cannot read back its export of the image sample (a video
    format: nothing to write) gets the sample with its video clip instead; one that reads back
    neither is an `AssertionError`, since its reader would only ever see its own refusal."""
    from labelport.domain.model import DEFAULT_LABELSET
    from labelport.errors import LabelportError
    from labelport.export.media import MediaMode
    from labelport.export.run import run_export
    from labelport.export.selection import restrict_labelsets
    from labelport.formats.registry import readable_formats
    from labelport.sample import build_sample

    samples = (build_sample(root / ".media"), build_sample(root / ".media-video", video=True))
    names = []
    for spec in readable_formats():
        assert spec.reader is not None
        for sample in samples:
            source = sample if spec.lossless else restrict_labelsets(sample, [DEFAULT_LABELSET])
            shutil.rmtree(root / spec.name, ignore_errors=True)
            try:
                run_export(source, spec, root / spec.name, media=MediaMode.COPY)
                if len(list(spec.reader(root / spec.name, {"images": None}).records())):
                    break
            except LabelportError:
                continue
        else:
            raise AssertionError(f"{spec.name}: no export of the sample reads back as a seed")
        names.append(spec.name)
    return names


# --- mutations ----------------------------------------------------------------------------

Mutation = Callable[[random.Random, Path, Path], str]
"""``mutate(rng, file, folder) -> description``: change ``file`` (inside ``folder``) in place."""

_TEXT_SUFFIXES = frozenset({".json", ".jsonl", ".txt", ".yaml", ".yml", ".xml", ".csv", ".tsv",
                            ".names", ".data"})
_INSERTS = (b"\x00", b"\xff\xfe\x80", b"\xc3(", b"{" * 50_000, b"[" * 50_000, b"\n" * 3,
            b"<!--", b"<a>" * 20_000, b"9" * 5000, b"\t", b",")
_TOKENS = ("9" * 5000, "-1", "0", "nan", "inf", "-inf", "1e999", "x" * 5000, "\x00", "\udcff",
           "99999999", "", "-99999999999999999999", "0.5", "null", "a/../../b", "/etc/passwd",
           "\u202e", "\n")
_LINES = ("kpt_shape: [99999999, 3]", "nc: 99999999", "names: {99999999: a}",
          "kpt_shape: [3, 99999999]", "99999999 0.5 0.5 0.5 0.5", "0 " + "0.5 " * 5000,
          "a" * 5000, "\x00", "&a [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
          "!!python/object/apply:os.system ['true']")
_JSON_VALUES: tuple[Any, ...] = (0, -1, 1.5, "x", "", [], {}, None, True, "x" * 5000,
                                 [[[[[]]]]], {"": None}, "\u0000", 2**64, -(2**63) - 1)
_RAW_JSON = ("9" * 5000, "[" * 5000 + "]" * 5000, "1e999", '{"a":' * 5000 + "1" + "}" * 5000)


def _flip(rng: random.Random, file: Path, folder: Path) -> str:
    data = bytearray(file.read_bytes())
    if not data:
        return "flip (empty file)"
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    file.write_bytes(bytes(data))
    return "flip bytes"


def _truncate(rng: random.Random, file: Path, folder: Path) -> str:
    data = file.read_bytes()
    cut = rng.randrange(len(data)) if data else 0
    file.write_bytes(data[:cut])
    return f"truncate at {cut}"


def _insert(rng: random.Random, file: Path, folder: Path) -> str:
    data = file.read_bytes()
    at = rng.randrange(len(data) + 1)
    insert = rng.choice(_INSERTS)
    file.write_bytes(data[:at] + insert + data[at:])
    return f"insert {insert[:8]!r} x{len(insert)} at {at}"


def _json_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _json_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _json_paths(child, (*path, index))


def _json_swap(rng: random.Random, file: Path, folder: Path) -> str:
    """A value somewhere in a JSON (or JSON lines) file replaced by another type or a raw
    pathological literal."""
    text = file.read_text(encoding="utf-8")
    lines = text.splitlines() if file.suffix == ".jsonl" else [text]
    line = rng.randrange(len(lines)) if lines else 0
    if not lines or not lines[line].strip():
        return _insert(rng, file, folder)
    document = json.loads(lines[line])
    paths = list(_json_paths(document))
    path = rng.choice(paths)
    raw = rng.random() < 0.3
    replacement: Any = "\u0001RAW\u0001" if raw else rng.choice(_JSON_VALUES)
    if not path:
        document = replacement
    else:
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = replacement
    encoded = json.dumps(document, ensure_ascii=False)
    literal = rng.choice(_RAW_JSON)
    if raw:
        encoded = encoded.replace('"\\u0001RAW\\u0001"', literal)
    lines[line] = encoded
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shown = literal[:10] + "..." if raw else repr(replacement)[:20]
    return f"json {'/'.join(map(str, path))[:80]} = {shown}"


_TOKEN = re.compile(r"[^\s,<>\"':;=\[\]{}]+")


def _token(rng: random.Random, file: Path, folder: Path) -> str:
    """A word or number of a text file replaced; a non-UTF-8 replacement goes in as bytes."""
    text = file.read_bytes().decode("utf-8", errors="surrogateescape")
    matches = list(_TOKEN.finditer(text))
    if not matches:
        return _insert(rng, file, folder)
    match = rng.choice(matches)
    token = rng.choice(_TOKENS)
    changed = text[:match.start()] + token + text[match.end():]
    file.write_bytes(changed.encode("utf-8", errors="surrogateescape"))
    return f"token {match.group()[:20]!r} -> {token[:10]!r} x{len(token)}"


def _append_line(rng: random.Random, file: Path, folder: Path) -> str:
    line = rng.choice(_LINES)
    with file.open("a", encoding="utf-8") as out:
        out.write("\n" + line + "\n")
    return f"append {line[:30]!r}"


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, at = [], 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        chunks.append((data[at + 4:at + 8], data[at + 8:at + 8 + length]))
        at += 12 + length
    return chunks


def _png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        out.append(struct.pack(">I", len(body)) + kind + body
                   + struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(out)


def _png_mutation(rng: random.Random, file: Path, folder: Path) -> str:
    """Huge declared dimensions, a text chunk that decompresses to megabytes, a chunk with a
    wrong CRC or length, or an unknown critical chunk; CRCs are right unless broken on purpose."""
    data = file.read_bytes()
    chunks = _png_chunks(data)
    if not data.startswith(b"\x89PNG") or not chunks or chunks[0][0] != b"IHDR":
        return _flip(rng, file, folder)
    choice = rng.randrange(5)
    if choice == 0:
        width, height = rng.choice([(100_000, 100_000), (2**31 - 1, 1), (1, 2**31 - 1),
                                    (0, 0), (70_000, 70_000)])
        chunks[0] = (b"IHDR", struct.pack(">II", width, height) + chunks[0][1][8:])
        file.write_bytes(_png(chunks))
        return f"png size {width}x{height}"
    if choice == 1:
        body = b"Comment\x00\x00" + zlib.compress(b"a" * (8 << 20))
        chunks.insert(1, (b"zTXt", body))
        file.write_bytes(_png(chunks))
        return "png zTXt of 8 MB"
    if choice == 2:
        at = rng.randrange(8, len(data) - 4)
        file.write_bytes(data[:at] + b"\xff\xff\xff\x7f" + data[at + 4:])
        return f"png 4 bytes at {at} = huge length"
    if choice == 3:
        broken = _png(chunks)
        at = rng.randrange(len(broken) - 4)
        file.write_bytes(broken[:at] + bytes([broken[at] ^ 0x55]) + broken[at + 1:])
        return f"png byte {at} broken (CRC wrong)"
    chunks.insert(1, (b"ABCD", b"x" * 10))
    file.write_bytes(_png(chunks))
    return "png unknown critical chunk"


def _replace_with(kind: str) -> Mutation:
    def mutate(rng: random.Random, file: Path, folder: Path) -> str:
        file.unlink()
        if kind == "folder":
            file.mkdir()
        elif kind == "symlink loop":
            file.symlink_to(file.name)
        elif kind == "fifo":
            os.mkfifo(file)
        elif kind == "device":
            file.symlink_to("/dev/zero")
        elif kind == "empty":
            file.touch()
        return f"replace with {kind}" if kind != "missing" else "delete"
    return mutate


_STRUCTURE = tuple(_replace_with(kind) for kind in
                   ("folder", "symlink loop", "fifo", "device", "empty", "missing"))


def _mutations_for(file: Path) -> list[tuple[Mutation, int]]:
    """(mutation, weight) choices for ``file``: structure-aware ones where its kind allows."""
    choices: list[tuple[Mutation, int]] = [(_flip, 4), (_truncate, 3), (_insert, 3)]
    choices += [(mutation, 1) for mutation in _STRUCTURE]
    suffix = file.suffix.lower()
    if suffix in {".json", ".jsonl"}:
        choices.append((_json_swap, 12))
    if suffix in _TEXT_SUFFIXES:
        choices += [(_token, 8), (_append_line, 3)]
    if suffix == ".png":
        choices.append((_png_mutation, 8))
    return choices


def mutate(rng: random.Random, folder: Path) -> tuple[Path, str]:
    """Apply one random mutation to one file of ``folder`` (label files chosen more often
    than images); returns the file and a description."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    labels = [p for p in files if p.suffix.lower() in _TEXT_SUFFIXES | {".parquet"}]
    pool = labels if labels and rng.random() < 0.7 else files
    file = rng.choice(pool)
    choices = _mutations_for(file)
    chosen = rng.choices([m for m, _ in choices], weights=[w for _, w in choices])[0]
    return file, chosen(rng, file, folder)


@contextmanager
def mutated(rng: random.Random, folder: Path) -> Iterator[str]:
    """``folder`` with one mutation for the length of the block, then restored; yields the
    mutation's description (with the file's path inside ``folder``)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    originals = {p: p.read_bytes() for p in files}
    file, description = mutate(rng, folder)
    try:
        yield f"{file.relative_to(folder)}: {description}"
    finally:
        for path, data in originals.items():
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                path.unlink()
            elif path.is_dir():
                shutil.rmtree(path)
            path.write_bytes(data)


# --- running ------------------------------------------------------------------------------

@contextmanager
def memory_limited(extra: int = MEMORY_LIMIT) -> Iterator[None]:
    """The process may allocate at most ``extra`` more bytes of data for the block (the soft
    ``RLIMIT_DATA``, restored after): an input that asks for gigabytes fails with a
    MemoryError instead of taking the machine. For a test that reads in its own process."""
    import resource

    used = next(int(line.split()[1]) * 1024 for line in
                Path("/proc/self/status").read_text().splitlines() if line.startswith("VmData:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (used + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that no reader's ``except Exception`` eats it."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


class StoreProbe:
    """A SQLite store with one project, and a fingerprint of every table's row count to tell
    that a failed import left nothing behind. Each import puts its items into a dataset of its
    own, so an import that succeeded never makes the next one clash with it."""

    def __init__(self, db: Path) -> None:
        from sqlalchemy import text

        from labelport.domain.schema import LabelSchema
        from labelport.store.db import open_store
        from labelport.store.tables import Base

        self.store = open_store(str(db))
        self.project = "fuzz"
        self.store.create_project(self.project, LabelSchema())
        counts = ", ".join(f'(SELECT count(*) FROM "{table.name}")'
                           for table in Base.metadata.sorted_tables)
        self._query = text(f"SELECT {counts}")
        self.imports = 0
        self.before = self.fingerprint()

    def fingerprint(self) -> tuple[int, ...]:
        with self.store.engine.connect() as conn:
            return tuple(conn.execute(self._query).one())

    def import_source(self, source: Any) -> None:
        self.imports += 1
        self.store.import_source(self.project, source, dataset=f"input-{self.imports}")


def run_input(spec_name: str, folder: Path, probe: StoreProbe, limit_s: float) -> Outcome:
    """Read ``folder`` as ``spec_name`` and import it; the outcome (``mutation`` left empty).
    A hang in Python code ends at the alarm; one inside a C call (a FIFO opened by pyarrow)
    is left to the watchdog of `_worker`."""
    from labelport.errors import LabelportError
    from labelport.formats.registry import get_format

    spec = get_format(spec_name)
    assert spec.reader is not None
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        probe.import_source(spec.reader(folder, {"images": None}))
    except _Timeout:
        outcome = Outcome("hang", "", f"over {limit_s} s")
    except LabelportError as error:
        signal.setitimer(signal.ITIMER_REAL, 0)
        outcome = Outcome("clean", "", str(error)[:300])
    except BaseException as error:  # noqa: BLE001 - what the fuzzer is looking for
        signal.setitimer(signal.ITIMER_REAL, 0)
        frames = traceback.extract_tb(error.__traceback__)
        ours = [f for f in frames if f"{os.sep}labelport{os.sep}" in f.filename] or frames
        where = ", ".join(f"{Path(f.filename).name}:{f.lineno}" for f in (ours[-1], frames[-1]))
        outcome = Outcome("crash", "", f"{type(error).__name__} at {where}: {str(error)[:200]}")
    else:
        signal.setitimer(signal.ITIMER_REAL, 0)
        probe.before = probe.fingerprint()
        return Outcome("ok", "")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if probe.fingerprint() != probe.before:
        return Outcome("store changed", "", outcome.detail)
    return outcome


def _emit(spec_name: str, index: int, outcome: Outcome, seconds: float) -> None:
    print(json.dumps({"format": spec_name, "index": index, "kind": outcome.kind,
                      "mutation": outcome.mutation, "detail": outcome.detail,
                      "seconds": seconds}), flush=True)


def _worker(names: list[str], seeds: Path, work: Path, start: int, inputs: int, seed: int,
            limit_s: float) -> None:
    """Inputs ``0..inputs-1`` of each format of ``names`` in turn (the first from ``start``),
    one JSON line each on stdout. Input ``i`` of a format is drawn from its own generator
    (``seed:format:i``), so a run resumed after a hang draws the same inputs. A watchdog thread
    reports an input still running at twice the limit as a hang and ends the process (the
    parent resumes after it): a thread blocked in C cannot be stopped any other way."""
    import resource
    import threading

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    probe = StoreProbe(work / "store.db")
    current: dict[str, Any] = {}

    def watchdog() -> None:
        while True:
            time.sleep(limit_s / 4)
            began = current.get("began")
            if began is not None and time.perf_counter() - began > 2 * limit_s:
                _emit(current["format"], current["index"],
                      Outcome("hang", current["mutation"], f"over {2 * limit_s} s, in a C call"),
                      time.perf_counter() - began)
                os._exit(3)

    threading.Thread(target=watchdog, daemon=True).start()
    for name in names:
        folder = work / name
        shutil.copytree(seeds / name, folder, symlinks=True)
        for index in range(start, inputs):
            rng = random.Random(f"{seed}:{name}:{index}")
            with mutated(rng, folder) as description:
                current.update(format=name, index=index, mutation=description,
                               began=time.perf_counter())
                outcome = run_input(name, folder, probe, limit_s)
                seconds = time.perf_counter() - current.pop("began")
            outcome.mutation = description
            _emit(name, index, outcome, seconds)
        start = 0
        shutil.rmtree(folder, ignore_errors=True)
    sys.stdout.flush()
    os._exit(0)  # not waiting for reader threads an input may have left blocked


def _run_share(names: list[str], seeds: Path, work: Path, *, inputs: int, seed: int,
               limit_s: float) -> Iterator[tuple[str, Outcome, float]]:
    """``(format, outcome, seconds)`` of every input of ``names``, from worker processes (a
    new one after each hang that needed the watchdog, resuming after that input)."""
    import subprocess

    position = (0, 0)  # (index into names, input)
    while position[0] < len(names):
        first, start = position
        command = [sys.executable, __file__, ",".join(names[first:]), str(seeds), str(work),
                   str(start), str(inputs), str(seed), str(limit_s)]
        env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as worker:
            assert worker.stdout is not None
            for line in worker.stdout:
                row = json.loads(line)
                done = names.index(row["format"]), row["index"] + 1
                position = (done[0] + 1, 0) if done[1] == inputs else done
                yield row["format"], Outcome(row["kind"], row["mutation"], row["detail"]), \
                    row["seconds"]
        if worker.returncode not in (0, 3):
            name = names[position[0]]
            yield name, Outcome("crash", "", f"worker died with status {worker.returncode}"), 0.0
            position = (position[0] + 1, 0)
    shutil.rmtree(work, ignore_errors=True)


def fuzz_all(seeds: Path, names: list[str], work: Path, *, inputs: int, seed: int,
             limit_s: float, workers: int = 2,
             done: Callable[[FormatResult], None] | None = None) -> list[FormatResult]:
    """``inputs`` inputs of each format of ``names`` (its seed in ``seeds / name``), the
    formats shared between ``workers`` processes; one `FormatResult` per format, each also
    handed to ``done`` as soon as it is complete."""
    from concurrent.futures import ThreadPoolExecutor

    results = {name: FormatResult(format=name) for name in names}

    def share(number: int) -> None:
        for name, outcome, seconds in _run_share(names[number::workers], seeds,
                                                 work / str(number), inputs=inputs, seed=seed,
                                                 limit_s=limit_s):
            result = results[name]
            result.inputs += 1
            result.seconds += seconds
            result.counts[outcome.kind] += 1
            result.slowest = max(result.slowest, seconds)
            if outcome.kind not in {"ok", "clean"}:
                result.failures.append(outcome)
            if result.inputs == inputs and done is not None:
                done(result)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(share, range(workers)))
    return list(results.values())


if __name__ == "__main__":
    formats, seed_root, work_dir, first, count, base_seed, limit = sys.argv[1:]
    _worker(formats.split(","), Path(seed_root), Path(work_dir), int(first), int(count),
            int(base_seed), float(limit))
