"""Split assignment: which subset (train, val, test, ...) each record of an export lands in.

Four strategies, all deterministic for the same data, fractions and seed:

- ``random``: each item's stable key (its ``--group-by`` value, else ``dataset/path``) is hashed
  with the seed (blake2b, never Python's ``hash()``) to a point in [0, 1) that falls in one
  split's slice of the cumulative fractions. An item's split depends on its own key only, so
  adding items never moves existing ones (sticky), as long as every split was non-empty; see
  "empty splits" below.
- ``stratified``: iterative stratification (Sechidis, Tsoumakas and Vlahavas, 2011) over the
  groups and their object counts per class, rarest class first, so every split's class
  distribution stays close to the whole, multi-label aware. A class whose groups are few is
  spread over as many splits as it has groups before anything else counts, so a class with
  two instances appears in two splits. Deterministic for the same data and seed, but **not
  sticky**: added items can move existing ones.
- ``field``: the metadata value ``--split-field KEY`` names each item's split.
- ``predefined``: the split the source gives (``record.split``, e.g. imported from a file).

With ``field`` and ``predefined`` an item without a split goes to ``default`` (``train``), and
is counted in the report; with ``default=None`` it is an `InputError` instead. Fractions are
not used by these two; when given, their names are the only split names accepted.

``--group-by KEY``: items with the same metadata value for KEY land in the same split (frames of
one video, shots of one scene); an item without the key is a group of its own. ``--group-by
dataset`` groups by the item's dataset (each dataset whole in one split), whatever the
metadata holds. A KEY that no item has is an `InputError` (nothing would be grouped).

Empty splits: when there are at least as many groups as splits and a split ended empty (a small
project with random hashing, or a tiny fraction), the fewest groups needed are moved into the
empty splits, each from the split with the most groups (first in order on a tie), choosing the
group whose hash point is nearest the empty split's slice. This can move items of a tiny
project when items are added later. Once every split is non-empty by hashing alone, no move
happens, and adding items cannot empty a split again, so existing items never move. With fewer
groups than splits, some splits stay empty and the report says so.

Class distributions are measured in objects: a split's share of a class is its objects of that
class over all its objects; the summary gives, per class, the largest absolute difference
between a split's share and the whole's (splits without objects are left out), and the overall
maximum. Memory stays bounded: the first pass keeps a hash per group (with its object counts per
class for ``stratified``), never records."""

from __future__ import annotations

import enum
import hashlib
import math
import random
import re
import sys
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from labelport.domain.model import ItemRecord
from labelport.domain.source import ExportSource
from labelport.errors import InputError
from labelport.export.stage import PassCounter, StageReport, StageSource
from labelport.formats.base import Report

GROUP_BY_DATASET = "dataset"
"""The ``--group-by`` value that groups items by their dataset rather than a metadata key."""
_SUM_TOLERANCE = 1e-6
_NAME = re.compile(r"\w[\w.-]{0,63}")
_HASH_SPAN = float(1 << 64)


class SplitStrategy(enum.StrEnum):
    RANDOM = "random"
    STRATIFIED = "stratified"
    FIELD = "field"
    PREDEFINED = "predefined"


def check_split_name(name: str, where: str = "split name") -> str:
    """A split name becomes a folder or file name: letters, digits, ``_``, ``-`` and ``.``,
    starting with a letter, digit or ``_``, at most 64 characters."""
    if not _NAME.fullmatch(name):
        raise InputError(f"{where} {name!r} is not a valid split name; expected letters, digits, "
                         "'_', '-' or '.' (starting with a letter, digit or '_', at most 64)")
    return name


def parse_split(text: str) -> dict[str, float]:
    """``train=0.7,val=0.2,test=0.1`` -> fractions in the given order.

    Fractions must be positive and add up to 1; whole numbers are weights instead
    (``train=7,val=2,test=1`` or ``train=70,val=20,test=10``) and are normalised."""
    entries: dict[str, str] = {}
    folded: set[str] = set()
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise InputError(f"split {part.strip()!r} in {text!r} is not NAME=FRACTION; expected "
                             "e.g. train=0.7,val=0.2,test=0.1")
        check_split_name(name)
        if name.casefold() in folded:
            raise InputError(f"split {name!r} is named twice in {text!r}")
        folded.add(name.casefold())
        entries[name] = value
    if all(_is_whole(v) for v in entries.values()):
        weights = {name: float(int(v)) for name, v in entries.items()}
        _check_positive(weights)
        total = sum(weights.values())
        return {name: w / total for name, w in weights.items()}
    fractions = {name: _number(name, v) for name, v in entries.items()}
    _check_fractions(fractions)
    return fractions


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitSpec:
    """How an export assigns splits; ``fractions`` keeps its order (the order of the splits in
    the summary and of the cumulative slices of ``random``)."""

    fractions: Mapping[str, float]
    strategy: SplitStrategy = SplitStrategy.RANDOM
    seed: int = 0
    split_field: str | None = None
    group_by: str | None = None
    default: str | None = "train"

    def __post_init__(self) -> None:
        object.__setattr__(self, "fractions", dict(self.fractions))
        for name in self.fractions:
            check_split_name(name)
        if self.fractions:
            _check_fractions(self.fractions)
        sampled = self.strategy in (SplitStrategy.RANDOM, SplitStrategy.STRATIFIED)
        if sampled and not self.fractions:
            raise InputError(f"a {self.strategy} split needs fractions, e.g. "
                             "--split train=0.7,val=0.2,test=0.1")
        if (self.strategy is SplitStrategy.FIELD) != bool(self.split_field):
            raise InputError("--split-field KEY goes with --split-strategy field, and field "
                             "needs it")
        if self.group_by is not None and not sampled:
            raise InputError(f"--group-by applies to random and stratified splits; with "
                             f"{self.strategy} the data names each item's split")
        if self.default is not None and not sampled:
            check_split_name(self.default, "default split")
            if self.fractions and self.default not in self.fractions:
                raise InputError(f"default split {self.default!r} is not one of the splits "
                                 f"{', '.join(self.fractions)}")

    @classmethod
    def parse(cls, split: str | None, *, strategy: str = "random", seed: int | str = 0,
              split_field: str | None = None, group_by: str | None = None,
              default: str | None = "train") -> SplitSpec:
        """From the CLI's ``--split``, ``--split-strategy``, ``--split-seed``,
        ``--split-field``, ``--group-by`` (and the fallback split name)."""
        try:
            chosen = SplitStrategy(strategy)
        except ValueError:
            valid = ", ".join(s.value for s in SplitStrategy)
            raise InputError(f"unknown split strategy {strategy!r}; valid: {valid}") from None
        try:
            seed_value = int(seed)
        except ValueError:
            raise InputError(f"split seed {seed!r} is not a whole number") from None
        return cls(fractions=parse_split(split) if split else {}, strategy=chosen,
                   seed=seed_value, split_field=split_field or None, group_by=group_by or None,
                   default=default)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.fractions)

    def to_json(self) -> dict[str, Any]:
        return {"strategy": self.strategy.value, "fractions": dict(self.fractions),
                "seed": self.seed, "split_field": self.split_field, "group_by": self.group_by,
                "default": self.default}


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitSummary:
    """What the split produced, for the manifest and the printed summary.

    ``class_counts`` are objects per split and class (every class of the schema, zero included);
    ``class_deviation`` is per class the largest ``|split share - whole share|`` over the splits
    with objects; ``moved_groups`` counts the groups moved to fill empty splits."""

    strategy: SplitStrategy
    seed: int
    fractions: Mapping[str, float]
    items: Mapping[str, int]
    groups: Mapping[str, int]
    class_counts: Mapping[str, Mapping[str, int]]
    class_deviation: Mapping[str, float]
    max_deviation: float
    moved_groups: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy.value,
            "seed": self.seed,
            "fractions": dict(self.fractions),
            "items": dict(self.items),
            "groups": dict(self.groups),
            "class_counts": {s: dict(c) for s, c in self.class_counts.items()},
            "class_deviation": {c: round(d, 6) for c, d in self.class_deviation.items()},
            "max_deviation": round(self.max_deviation, 6),
            "moved_groups": self.moved_groups,
        }


def assign_splits(source: ExportSource, spec: SplitSpec,
                  report: Report) -> tuple[ExportSource, SplitSummary]:
    """``source`` with every record's ``split`` set, and what the split produced.

    One light pass over ``source`` runs here (two for a random split that had to fill an empty
    split), so errors (a bad split name in the data) surface before anything is written; the
    returned source re-runs the assignment over ``source.records()`` each time it is read."""
    plan = plan_splits(source, spec, report)
    return apply_plan(source, plan, count=sum(plan.summary.items.values())), plan.summary


def plan_splits(source: ExportSource, spec: SplitSpec, report: Report) -> SplitPlan:
    """The split of the whole ``source``, computed in its light pass (see `assign_splits`)."""
    reported = Report()
    table, summary = _PLANNERS[spec.strategy](source, spec, reported)
    report.counts.update(reported.counts)
    report.messages.extend(reported.messages)
    return SplitPlan(spec=spec, summary=summary, table=table, reported=reported)


def apply_plan(source: ExportSource, plan: SplitPlan, *, count: int | None = None
               ) -> ExportSource:
    """``source`` with every record's ``split`` set by ``plan``, which may have been computed
    over a larger source (the whole export of which ``source`` is a shard); ``count`` its
    records when the caller knows it (else ``len(source)``)."""
    assign = plan.assign

    def stage(_: PassCounter) -> Iterator[ItemRecord]:
        for record in source.records():
            yield replace(record, split=assign(record))

    def size() -> int:  # asked for only when needed: ``len(source)`` may cost a pass
        return len(source) if count is None else count

    return StageSource(project=source.project, schema=source.schema, datasets=source.datasets,
                       labelsets=source.labelsets, stage=stage, report=StageReport(Report()),
                       count=size, within=source)


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitPlan:
    """A split computed once: with the record itself, ``table`` decides each record's split
    (group hash -> split index: the groups ``random`` moved to fill an empty split, every group
    of ``stratified``, none for ``field`` and ``predefined``). It travels as bytes
    (`to_bytes`, a few bytes per group) to the shards of a sharded export, so each shard gives
    its records the splits the whole export gives them."""

    spec: SplitSpec
    summary: SplitSummary
    table: Mapping[int, int]
    reported: Report
    """What computing the split reported (counts, warnings): once for the whole export."""

    def assign(self, record: ItemRecord) -> str:
        names, spec = self.spec.names, self.spec
        if spec.strategy is SplitStrategy.RANDOM:
            h = _group_hash(record, spec)[0]
            return names[self.table.get(h, _bucket(h, _bounds(spec.fractions.values())))]
        if spec.strategy is SplitStrategy.STRATIFIED:
            index = self.table.get(_group_hash(record, spec)[0])
            if index is None:  # a shard reading a project that changed since the plan
                raise InputError(f"item {record.item.key} is not in the split computed when "
                                 "the export started: the project changed while it ran; "
                                 "export again, or export a release")
            return names[index]
        return _named(record, spec)

    def to_bytes(self) -> bytes:
        keys = array("Q", self.table)
        if sys.byteorder == "big":
            keys.byteswap()
        head = orjson.dumps({"spec": self.spec.to_json(), "summary": self.summary.to_json(),
                             "groups": len(keys), "counts": self.reported.counts,
                             "messages": self.reported.messages})
        return zlib.compress(b"\n".join((head, keys.tobytes() + bytes(self.table.values()))))

    @classmethod
    def from_bytes(cls, data: bytes) -> SplitPlan:
        head, _, body = zlib.decompress(data).partition(b"\n")
        meta = orjson.loads(head)
        n = meta["groups"]
        keys = array("Q")
        keys.frombytes(body[:8 * n])
        if sys.byteorder == "big":
            keys.byteswap()
        spec_json, summary = meta["spec"], meta["summary"]
        spec = SplitSpec(**{**spec_json, "strategy": SplitStrategy(spec_json["strategy"])})
        reported = Report(counts=Counter(meta["counts"]), messages=meta["messages"])
        return cls(spec=spec, table=dict(zip(keys, body[8 * n:], strict=True)), reported=reported,
                   summary=SplitSummary(**{**summary,
                                           "strategy": SplitStrategy(summary["strategy"])}))


_Table = dict[int, int]
_Planner = Callable[[ExportSource, SplitSpec, Report], tuple[_Table, SplitSummary]]


# --- hashing -------------------------------------------------------------------------------

def _group_hash(record: ItemRecord, spec: SplitSpec) -> tuple[int, bool]:
    """The seeded 64-bit hash of the record's stable key, and whether the key is a shared group
    (so the same hash can come again) rather than the item itself."""
    if spec.group_by == GROUP_BY_DATASET:
        value: Any = record.item.dataset
    else:
        value = record.item.metadata.get(spec.group_by) if spec.group_by else None
    if value is None:
        key, grouped = "i\x1f" + record.item.key, False
    else:
        key = "g\x1f" + orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()
        grouped = True
    digest = hashlib.blake2b(f"{spec.seed}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big"), grouped


def _check_grouped(spec: SplitSpec, *, items: int, grouped: int) -> None:
    """A ``--group-by`` key that no item has would group nothing: say so instead."""
    if spec.group_by is not None and items and not grouped:
        raise InputError(f"--group-by {spec.group_by!r}: no item has the metadata key "
                         f"{spec.group_by!r}; name a key the items have, or "
                         f"{GROUP_BY_DATASET!r} to keep each dataset in one split")


def _bucket(h: int, bounds: tuple[float, ...]) -> int:
    """The split whose slice of [0, 1) holds the hash's point; the last slice takes the rest."""
    point = h / _HASH_SPAN
    for index, bound in enumerate(bounds[:-1]):
        if point < bound:
            return index
    return len(bounds) - 1


def _bounds(fractions: Iterable[float]) -> tuple[float, ...]:
    cumulative, total = [], 0.0
    for fraction in fractions:
        total += fraction
        cumulative.append(total)
    return tuple(cumulative)


# --- filling empty splits ------------------------------------------------------------------

class _Rescue:
    """Watches a stream of (group hash, split) and, at the end, says which groups to move so no
    split stays empty. Keeps, per (donor split, empty split), the few groups nearest the empty
    split's slice: as many as there are splits, which is the most that can ever be moved."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._k = len(bounds)
        self._slices = list(zip((0.0, *bounds[:-1]), bounds, strict=True))
        self._best: list[list[list[tuple[float, int]]]] = [
            [[] for _ in range(self._k)] for _ in range(self._k)]
        self._seen: set[int] = set()
        self.groups = [0] * self._k

    def see(self, h: int, split: int, grouped: bool) -> None:
        if grouped:
            if h in self._seen:
                return
            self._seen.add(h)
        self.groups[split] += 1
        point = h / _HASH_SPAN
        for target, (lo, hi) in enumerate(self._slices):
            if target == split:
                continue
            distance = lo - point if point < lo else max(0.0, point - hi)
            best = self._best[split][target]
            if len(best) < self._k or (distance, h) < best[-1]:
                best.append((distance, h))
                best.sort()
                del best[self._k:]

    def moves(self) -> tuple[dict[int, int], list[int]]:
        """The groups to move (hash -> empty split) and the groups per split after the moves."""
        groups = list(self.groups)
        if all(groups) or sum(groups) < self._k:
            return {}, groups
        moved: dict[int, int] = {}
        for target in range(self._k):
            if groups[target]:
                continue
            donor = max((s for s in range(self._k) if groups[s] >= 2),
                        key=lambda s: (groups[s], -s))
            h = next(h for _, h in self._best[donor][target] if h not in moved)
            moved[h] = target
            groups[donor] -= 1
            groups[target] = 1
        return moved, groups


def _report_rescue(report: Report, names: tuple[str, ...], groups: list[int],
                   moved: Mapping[int, int], moved_items: int) -> None:
    if moved:
        report.count("split: items moved to fill an empty split", moved_items)
        report.warn(f"{len(moved)} group(s) moved to fill empty split(s) "
                    f"{', '.join(sorted({names[t] for t in moved.values()}))}; in a project this "
                    "small, adding items can move them again")
    elif not all(groups):
        empty = ", ".join(n for n, g in zip(names, groups, strict=True) if not g)
        report.warn(f"split(s) {empty} left empty: {sum(groups)} group(s) cannot fill "
                    f"{len(names)} splits")


# --- counting what a split produced ---------------------------------------------------------

class _Tally:
    """Items, groups and objects per class for each split, in a fixed split order."""

    def __init__(self, names: Iterable[str], class_names: Iterable[str]) -> None:
        self.items: dict[str, int] = dict.fromkeys(names, 0)
        self.groups: dict[str, int] = dict.fromkeys(self.items, 0)
        self.objects: dict[str, Counter[str]] = {}
        self._classes = list(class_names)

    def add(self, split: str, *, items: int, groups: int,
            labels: Iterable[tuple[str, int]]) -> None:
        self.items[split] = self.items.get(split, 0) + items
        self.groups[split] = self.groups.get(split, 0) + groups
        counter = self.objects.setdefault(split, Counter())
        for label, n in labels:
            counter[label] += n

    def add_record(self, split: str, record: ItemRecord) -> None:
        """One item as its own group (random replaces the group counts with its own)."""
        self.add(split, items=1, groups=1,
                 labels=((a.label, 1) for a in record.annotations))

    def summary(self, spec: SplitSpec, moved_groups: int = 0) -> SplitSummary:
        extra = sorted({label for c in self.objects.values() for label in c} - set(self._classes))
        classes = [*self._classes, *extra]
        counts = {s: {c: self.objects.get(s, Counter())[c] for c in classes} for s in self.items}
        whole = Counter({c: sum(counts[s][c] for s in counts) for c in classes})
        whole_total = sum(whole.values())
        deviation = dict.fromkeys(classes, 0.0)
        for per_class in counts.values():
            split_total = sum(per_class.values())
            if not split_total:
                continue
            for c in classes:
                gap = abs(per_class[c] / split_total - whole[c] / whole_total)
                deviation[c] = max(deviation[c], gap)
        return SplitSummary(strategy=spec.strategy, seed=spec.seed, fractions=dict(spec.fractions),
                            items=dict(self.items), groups=dict(self.groups), class_counts=counts,
                            class_deviation=deviation,
                            max_deviation=max(deviation.values(), default=0.0),
                            moved_groups=moved_groups)


# --- the strategies ------------------------------------------------------------------------

def _plan_random(source: ExportSource, spec: SplitSpec,
                 report: Report) -> tuple[_Table, SplitSummary]:
    names, bounds = spec.names, _bounds(spec.fractions.values())
    rescue = _Rescue(bounds)
    tally = _Tally(names, source.schema.class_names)
    items = grouped_items = 0
    for record in source.records():
        h, grouped = _group_hash(record, spec)
        items, grouped_items = items + 1, grouped_items + grouped
        split = _bucket(h, bounds)
        rescue.see(h, split, grouped)
        tally.add_record(names[split], record)
    _check_grouped(spec, items=items, grouped=grouped_items)
    moved, groups = rescue.moves()
    moved_items = 0
    if moved:  # rare: a project with few groups; count again with the moves
        tally = _Tally(names, source.schema.class_names)
        for record in source.records():
            h = _group_hash(record, spec)[0]
            moved_items += h in moved
            tally.add_record(names[moved.get(h, _bucket(h, bounds))], record)
    _report_rescue(report, names, rescue.groups, moved, moved_items)
    tally.groups = dict(zip(names, groups, strict=True))
    return moved, tally.summary(spec, len(moved))


@dataclass(frozen=True, slots=True)
class _Group:
    """What stratification needs of a group: its items and its objects per class index."""

    items: int
    labels: tuple[tuple[int, int], ...]


def _plan_stratified(source: ExportSource, spec: SplitSpec,
                     report: Report) -> tuple[_Table, SplitSummary]:
    names = spec.names
    class_index: dict[str, int] = {c: i for i, c in enumerate(source.schema.class_names)}
    groups: dict[int, _Group] = {}
    shared: dict[_Group, _Group] = {}
    items = grouped_items = 0
    for record in source.records():
        h, grouped = _group_hash(record, spec)
        items, grouped_items = items + 1, grouped_items + grouped
        counts: Counter[int] = Counter()
        for annotation in record.annotations:
            index = class_index.get(annotation.label)
            if index is None:
                index = class_index[annotation.label] = len(class_index)
            counts[index] += 1
        old = groups.get(h)
        if old is None:  # many single images share one shape: keep one copy of it
            group = _Group(1, tuple(sorted(counts.items())))
            groups[h] = shared.setdefault(group, group)
        else:
            counts.update(dict(old.labels))
            groups[h] = _Group(old.items + 1, tuple(sorted(counts.items())))
    shared.clear()
    _check_grouped(spec, items=items, grouped=grouped_items)
    assigned = _stratify(groups, tuple(spec.fractions.values()), seed=spec.seed)
    bounds = _bounds(spec.fractions.values())
    rescue = _Rescue(bounds)
    for h in sorted(assigned):
        rescue.see(h, assigned[h], grouped=False)
    moved, _ = rescue.moves()
    assigned.update(moved)
    _report_rescue(report, names, rescue.groups, moved, sum(groups[h].items for h in moved))
    labels = list(class_index)
    tally = _Tally(names, labels)
    for h, group in groups.items():
        tally.add(names[assigned[h]], items=group.items, groups=1,
                  labels=((labels[i], n) for i, n in group.labels))
    groups.clear()
    return assigned, tally.summary(spec, len(moved))


def _stratify(groups: Mapping[int, _Group], fractions: tuple[float, ...], *,
             seed: int) -> dict[int, int]:
    """Iterative stratification of groups (by hash) into splits (by index), after Sechidis et
    al. 2011, with object counts as the label weights and items as the example weights.

    Rarest class first (fewest unassigned groups); each of its unassigned groups, in hash order,
    goes to the split that still wants most of that class, then most items, then a seeded
    draw; while a class has no more groups left than splits lacking it, only those splits are
    considered. Groups without objects fill the splits that still want most items."""
    rng = random.Random(seed)
    k = len(fractions)
    splits = list(range(k))
    total_items = sum(g.items for g in groups.values())
    want_items = [f * total_items for f in fractions]
    totals: Counter[int] = Counter()
    remaining: Counter[int] = Counter()
    members: dict[int, list[int]] = {}
    for h, group in groups.items():
        for label, n in group.labels:
            totals[label] += n
            remaining[label] += 1
            members.setdefault(label, []).append(h)
    want = {label: [f * n for f in fractions] for label, n in totals.items()}
    present = {label: [False] * k for label in totals}
    assigned: dict[int, int] = {}

    def place(h: int, split: int) -> None:
        group = groups[h]
        assigned[h] = split
        want_items[split] -= group.items
        for label, n in group.labels:
            want[label][split] -= n
            remaining[label] -= 1
            present[label][split] = True

    while live := [label for label in totals if remaining[label] > 0]:
        label = min(live, key=lambda c: (remaining[c], c))
        for h in sorted(members.pop(label)):
            if h in assigned:
                continue
            wanted, covered = want[label], present[label]
            candidates = splits
            if not all(covered):
                lacking = [s for s in splits if not covered[s]]
                if remaining[label] <= len(lacking):
                    candidates = lacking
            place(h, _best([((wanted[s], want_items[s]), s) for s in candidates], rng))
    for h in sorted(h for h, g in groups.items() if not g.labels):
        place(h, _best([((want_items[s], 0.0), s) for s in splits], rng))
    return assigned


def _best(scored: list[tuple[tuple[float, float], int]], rng: random.Random) -> int:
    """The split with the highest score; ties drawn by the seeded generator."""
    top = max(value for value, _ in scored)
    tied = [s for value, s in scored if value == top]
    return tied[0] if len(tied) == 1 else rng.choice(tied)


def _described(spec: SplitSpec) -> str:
    return f"metadata field {spec.split_field!r}" if spec.split_field else "split"


def _given(record: ItemRecord, spec: SplitSpec) -> object:
    """The split the data names for ``record`` (``field`` and ``predefined``), if any."""
    value = record.item.metadata.get(spec.split_field) if spec.split_field else record.split
    return None if value == "" else value


def _named(record: ItemRecord, spec: SplitSpec) -> str:
    value = _given(record, spec)
    described = _described(spec)
    if value is None:
        if spec.default is None:
            raise InputError(f"item {record.item.key} has no {described}; give every item "
                             "one, or a default split")
        return spec.default
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InputError(f"item {record.item.key}: {described} is {value!r}; expected a "
                         "split name")
    name = check_split_name(str(value), f"item {record.item.key}: {described}")
    if spec.fractions and name not in spec.fractions:
        raise InputError(f"item {record.item.key}: {described} {name!r} is not one of the "
                         f"splits {', '.join(spec.fractions)}")
    return name


def _plan_named(source: ExportSource, spec: SplitSpec,
                report: Report) -> tuple[_Table, SplitSummary]:
    """``field`` and ``predefined``: the data names the split."""
    missing = 0
    tally = _Tally(spec.names, source.schema.class_names)
    for record in source.records():
        missing += _given(record, spec) is None
        tally.add_record(_named(record, spec), record)
    if missing:
        report.count(f"split: items without a {_described(spec)}, put in {spec.default}",
                     missing)
    order = [*spec.names, *sorted(set(tally.items) - set(spec.fractions))]
    tally.items = {n: tally.items.get(n, 0) for n in order}
    tally.groups = {n: tally.groups.get(n, 0) for n in order}
    return {}, tally.summary(spec)


_PLANNERS: dict[SplitStrategy, _Planner] = {
    SplitStrategy.RANDOM: _plan_random,
    SplitStrategy.STRATIFIED: _plan_stratified,
    SplitStrategy.FIELD: _plan_named,
    SplitStrategy.PREDEFINED: _plan_named,
}


def _is_whole(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _number(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"split {name}={value!r}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise InputError(f"split {name}={value!r}: expected a finite number")
    return number


def _check_positive(values: Mapping[str, float]) -> None:
    for name, value in values.items():
        if not value > 0:
            raise InputError(f"split {name}={value:g}: every split needs a fraction above 0")


def _check_fractions(fractions: Mapping[str, float]) -> None:
    _check_positive(fractions)
    total = sum(fractions.values())
    if abs(total - 1.0) > _SUM_TOLERANCE:
        raise InputError(f"split fractions add up to {total:g}, not 1; give fractions that add "
                         "up to 1 (train=0.7,val=0.2,test=0.1) or whole-number weights "
                         "(train=7,val=2,test=1)")
