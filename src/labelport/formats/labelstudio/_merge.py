"""Merging the shards of a ``labelstudio`` or ``labelstudio_min`` export
(`FormatSpec.merge_shards`).

Tasks are numbered from 1 in export order, annotations and predictions from 1 across the
file, and a result id is ``"{task}-{n}"``: each shard's tasks are streamed one at a time in
shard order with these ids shifted by the tasks, annotations and predictions of the shards
before it (``result.json``, or ``tasks/{id}.json`` renamed with its task). The label config
offers each tool's classes, plus those a shard wrote with that tool: the merged config holds
every shard's, each tool's labels in schema order (``model_index``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from labelport.formats._shared.shard_merge import (
    entries,
    lines_after,
    shard_items,
    shard_report,
    write_entries,
)
from labelport.formats.labelstudio._config import CONFIG_FILE, LABEL_TAGS, RESULT_FILE, TASKS_DIR

_TOOLS = "|".join(LABEL_TAGS.values())
_TOOL_BLOCK = re.compile(rf'  <(?:{_TOOLS}) name="(\w+)"')
_MODEL_INDEX = re.compile(r'model_index="(\d+)"')
_TOOL_ORDER = {tool: i for i, tool in enumerate(LABEL_TAGS)}


CANCELLED = "not written: cancelled annotation (JSON_MIN leaves it out)"
"""Counted by a JSON_MIN export: its ids, left out of the file, are what a merge adds up."""


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    _merge_config(shards, out)
    ids = _Offsets()
    if (shards[0] / RESULT_FILE).exists():
        with (out / RESULT_FILE).open("wb") as f:
            f.write(b"[")
            written = 0
            for shard in shards:
                part = shard / RESULT_FILE
                tasks = entries(lines_after(part, b"["), b"]", where=part)
                written = write_entries(f, ids.shifted(tasks), start=written)
            f.write(b"\n]\n")
        return [CONFIG_FILE, RESULT_FILE]
    handled = [CONFIG_FILE]
    (out / TASKS_DIR).mkdir(parents=True, exist_ok=True)
    for shard in shards:
        files = sorted((shard / TASKS_DIR).glob("*.json"), key=lambda p: int(p.stem))
        for task in ids.shifted(p.read_bytes().rstrip(b"\n") for p in files):
            name = f"{TASKS_DIR}/{orjson.loads(task)['id']}.json"
            (out / name).write_bytes(task + b"\n")
            handled.append(name)
    return handled + [f"{TASKS_DIR}/{p.name}" for s in shards for p in (s / TASKS_DIR).glob("*")]


def merge_min_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """``labelstudio_min``: the records of every shard in shard order, their task ids shifted by
    the tasks of the shards before and their ``annotation_id`` by the annotations (those
    written and the cancelled ones counted in each shard's report)."""
    _merge_config(shards, out)
    with (out / RESULT_FILE).open("wb") as f:
        f.write(b"[")
        written = tasks = annotations = 0
        for shard in shards:
            part = shard / RESULT_FILE
            records = entries(lines_after(part, b"["), b"]", where=part)
            kept = _MinRecords(tasks=tasks, annotations=annotations)
            written = write_entries(f, map(kept.shifted, records), start=written)
            tasks += shard_items(shard)
            annotations += kept.annotated + shard_report(shard).get(CANCELLED, 0)
        f.write(b"\n]\n")
    return [CONFIG_FILE, RESULT_FILE]


class _MinRecords:
    """A shard's JSON_MIN records with their ids shifted by ``tasks`` and ``annotations``;
    counts those of an annotation."""

    def __init__(self, *, tasks: int, annotations: int) -> None:
        self.tasks = tasks
        self.annotations = annotations
        self.annotated = 0

    def shifted(self, line: bytes) -> bytes:
        record = orjson.loads(line)
        if record["annotation_id"] is None:
            if not self.tasks:
                return line
        else:
            self.annotated += 1
            if not (self.tasks or self.annotations):
                return line
            record["annotation_id"] += self.annotations
        record["id"] += self.tasks
        return orjson.dumps(record)


def _merge_config(shards: Sequence[Path], out: Path) -> None:
    configs = [(s / CONFIG_FILE).read_text(encoding="utf-8") for s in shards]
    (out / CONFIG_FILE).write_text(merge_configs(configs), encoding="utf-8", newline="\n")


class _Offsets:
    """The tasks, annotations and predictions of the shards before the current one."""

    def __init__(self) -> None:
        self.before = [0, 0, 0]
        self.seen = [0, 0, 0]

    def next_shard(self) -> None:
        self.before = [b + s for b, s in zip(self.before, self.seen, strict=True)]
        self.seen = [0, 0, 0]

    def shifted(self, tasks: Iterator[bytes]) -> Iterator[bytes]:
        for line in tasks:
            yield self.task(line)
        self.next_shard()

    def task(self, line: bytes) -> bytes:
        task = orjson.loads(line)
        task_offset, annotation_offset, prediction_offset = self.before
        self.seen[0] += 1
        self.seen[1] += len(task["annotations"])
        self.seen[2] += len(task["predictions"])
        if not any(self.before):
            return line
        task["id"] += task_offset
        for key, offset in (("annotations", annotation_offset),
                            ("predictions", prediction_offset)):
            for entry in task[key]:
                entry["id"] += offset
                for result in entry["result"]:
                    _shift_region(result, task_offset)
        return orjson.dumps(task)


def _shift_region(result: dict[str, Any], offset: int) -> None:
    """A result's ``"{task}-{n}"`` id and parent id, with the task's new id."""
    for key in ("id", "parentID"):
        if key in result:
            task, _, n = result[key].partition("-")
            result[key] = f"{int(task) + offset}-{n}"


def merge_configs(configs: Sequence[str]) -> str:
    """One config offering every shard's tool labels; the other controls come from the schema
    and are the same in every shard, but for ``image_labels``, present when any shard has it."""
    tools: dict[str, tuple[str, str, dict[str, None]]] = {}  # tool: start, end, labels
    others: list[list[str]] = []
    for config in configs:
        ordered: list[list[str]] = []
        for block in _blocks(config.splitlines()[1:-1]):
            found = _TOOL_BLOCK.match(block[0])
            if found is None:
                ordered.append(block)
            else:
                tool = tools.setdefault(found[1], (block[0], block[-1], {}))
                tool[2].update(dict.fromkeys(block[1:-1]))
        others = _union(others, ordered)
    lines = ["<View>", *others[0]]
    for name in sorted(tools, key=lambda t: _TOOL_ORDER.get(t, len(_TOOL_ORDER))):
        start, end, labels = tools[name]
        lines += [start, *sorted(labels, key=_label_order(list(labels))), end]
    for block in others[1:]:
        lines += block
    return "\n".join([*lines, "</View>"]) + "\n"


def _label_order(first_seen: list[str]) -> Any:
    def key(label: str) -> tuple[int, int]:
        found = _MODEL_INDEX.search(label)
        return (int(found[1]) if found else 1 << 30, first_seen.index(label))

    return key


def _blocks(lines: list[str]) -> list[list[str]]:
    """The config's top-level elements, each as its lines."""
    blocks: list[list[str]] = []
    open_block: list[str] | None = None
    for line in lines:
        if open_block is not None:
            open_block.append(line)
            if line.startswith("  </"):
                blocks.append(open_block)
                open_block = None
        elif line.endswith("/>"):
            blocks.append([line])
        else:
            open_block = [line]
    return blocks


def _union(merged: list[list[str]], blocks: list[list[str]]) -> list[list[str]]:
    """``merged`` with the blocks it lacks, each after the block before it in ``blocks``."""
    out = list(merged)
    after = -1
    for block in blocks:
        if block in out:
            after = out.index(block)
        else:
            after += 1
            out.insert(after, block)
    return out
