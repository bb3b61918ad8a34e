"""Split assignment: parsing, each strategy, determinism, stickiness when items are added,
fractions on many items, stratification against random and against what it reports, groups,
tiny projects, and the sample project."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from labelport.domain.geometry import Box
from labelport.domain.model import Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError
from labelport.export.splits import (
    SplitPlan,
    SplitSpec,
    SplitStrategy,
    SplitSummary,
    apply_plan,
    assign_splits,
    parse_split,
    plan_splits,
)
from labelport.formats.base import Report
from labelport.sample import build_sample

CLASSES = tuple(f"c{i}" for i in range(8))
SCHEMA = LabelSchema(classes=tuple(LabelClass(id=i + 1, name=c) for i, c in enumerate(CLASSES)))
THREE_WAY = "train=0.7,val=0.2,test=0.1"


def record(i: int, labels: Sequence[str] = (), *, dataset: str = "d", split: str | None = None,
           **metadata: object) -> ItemRecord:
    annotations = tuple(Annotation(label=label, geometry=Box(x=0, y=0, w=4, h=4))
                        for label in labels)
    item = Item(dataset=dataset, path=f"img/{i:06d}.jpg", width=64, height=64, metadata=metadata)
    return ItemRecord(item=item, annotations=annotations, split=split)


def source(records: Sequence[ItemRecord]) -> MemorySource:
    return MemorySource(project=ProjectInfo(name="p"), schema=SCHEMA, items=tuple(records))


def plain(n: int, start: int = 0) -> list[ItemRecord]:
    return [record(i) for i in range(start, start + n)]


def imbalanced(n: int, seed: int = 7) -> list[ItemRecord]:
    """Multi-label items whose classes go from common (c0) to rare (c7), several objects each,
    in groups of 4 items (a ``seq`` metadata key)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        labels = [c for j, c in enumerate(CLASSES) if rng.random() < 0.6 / (j + 1) ** 1.7]
        objects = [c for c in labels for _ in range(rng.randint(1, 4))]
        records.append(record(i, objects, seq=i // 4))
    return records


def run(records: Sequence[ItemRecord] | ExportSource, split: str | None = THREE_WAY,
        report: Report | None = None, **options: Any) -> tuple[dict[str, str], SplitSummary]:
    """item key -> split, and the summary."""
    src = records if not isinstance(records, Sequence) else source(records)
    out, summary = assign_splits(src, SplitSpec.parse(split, **options), report or Report())
    assigned = {}
    for r in out.records():
        assert r.split is not None
        assigned[r.item.key] = r.split
    return assigned, summary


def deviation(records: Sequence[ItemRecord], assigned: dict[str, str]) -> float:
    """The largest |split share - whole share| of any class, recomputed from the output."""
    per_split: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        per_split[assigned[r.item.key]].update(a.label for a in r.annotations)
    whole = sum(per_split.values(), Counter())
    total = sum(whole.values())
    return max(abs(c[label] / sum(c.values()) - whole[label] / total)
               for c in per_split.values() if c for label in whole)


# --- parsing --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("train=0.7,val=0.2,test=0.1", {"train": 0.7, "val": 0.2, "test": 0.1}),
    (" train = 0.8 , val = 0.2 ", {"train": 0.8, "val": 0.2}),
    ("all=1", {"all": 1.0}),
    ("train=7,val=2,test=1", {"train": 0.7, "val": 0.2, "test": 0.1}),
    ("train=70,val=20,test=10", {"train": 0.7, "val": 0.2, "test": 0.1}),
    ("a=1,b=1", {"a": 0.5, "b": 0.5}),
    ("fold-1=0.5,fold_2.x=0.5", {"fold-1": 0.5, "fold_2.x": 0.5}),
    ("entraînement=0.5,验证=0.5", {"entraînement": 0.5, "验证": 0.5}),
])
def test_parse_split(text: str, expected: dict[str, float]) -> None:
    parsed = parse_split(text)
    assert list(parsed) == list(expected)
    assert parsed == pytest.approx(expected)


@pytest.mark.parametrize(("text", "message"), [
    ("train=0.7,val=0.2", "add up to 0.9, not 1"),
    ("train=0.7,val=0.4", "add up to 1.1, not 1"),
    ("train=1.0,val=0", "above 0"),
    ("train=1.2,val=-0.2", "above 0"),
    ("train=7,val=0", "above 0"),
    ("train=abc", "not a number"),
    ("train=\u00b2", "not a number"),
    ("train=nan", "finite"),
    ("train=inf", "finite"),
    ("train", "NAME=FRACTION"),
    ("=0.5,val=0.5", "NAME=FRACTION"),
    ("train=", "NAME=FRACTION"),
    ("", "NAME=FRACTION"),
    ("train=0.5,,val=0.5", "NAME=FRACTION"),
    ("../up=0.5,val=0.5", "not a valid split name"),
    ("a/b=0.5,val=0.5", "not a valid split name"),
    ("..=0.5,val=0.5", "not a valid split name"),
    ("my split=0.5,val=0.5", "not a valid split name"),
    ("train=0.5,Train=0.5", "named twice"),
])
def test_parse_split_refuses(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_split(text)


@pytest.mark.parametrize(("options", "message"), [
    ({"split": None}, "needs fractions"),
    ({"split": None, "strategy": "stratified"}, "needs fractions"),
    ({"strategy": "shuffled"}, "unknown split strategy 'shuffled'; valid: random, stratified"),
    ({"seed": "x1"}, "not a whole number"),
    ({"strategy": "field"}, "--split-field KEY"),
    ({"split_field": "fold"}, "--split-field KEY"),
    ({"strategy": "field", "split_field": "fold", "group_by": "video"}, "--group-by applies"),
    ({"strategy": "predefined", "default": "holdout"}, "default split 'holdout' is not one"),
    ({"split": None, "strategy": "predefined", "default": "a/b"}, "not a valid split name"),
])
def test_split_spec_refuses(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        SplitSpec.parse(**({"split": THREE_WAY} | options))


def test_split_spec_to_json_and_constructor_check() -> None:
    spec = SplitSpec.parse("train=3,val=1", strategy="stratified", seed="5", group_by="video")
    assert spec.to_json() == {"strategy": "stratified", "fractions": {"train": 0.75, "val": 0.25},
                              "seed": 5, "split_field": None, "group_by": "video",
                              "default": "train"}
    with pytest.raises(InputError, match="add up to 0.5"):
        SplitSpec(fractions={"train": 0.25, "val": 0.25})


# --- random ---------------------------------------------------------------------------------

def test_random_is_deterministic_and_depends_on_the_seed() -> None:
    records = plain(500)
    first, summary = run(records, seed=3)
    again, _ = run(list(reversed(records)), seed=3)
    other, _ = run(records, seed=4)
    assert first == again
    changed = sum(first[k] != other[k] for k in first)
    assert changed > 100
    assert summary.strategy is SplitStrategy.RANDOM and summary.seed == 3


def test_random_is_sticky_when_items_are_added() -> None:
    old = imbalanced(1000)
    before, summary = run(old, group_by="seq")
    assert summary.moved_groups == 0
    new = [record(i, ["c0"], seq=i // 4) for i in range(1000, 1200)]  # a new group and old ones
    after, _ = run(old + new, group_by="seq")
    assert {k: after[k] for k in before} == before
    assert set(after.values()) == {"train", "val", "test"}


def test_random_fractions_are_respected_on_many_items() -> None:
    assigned, summary = run(plain(10_000))
    sizes = Counter(assigned.values())
    assert sizes == summary.items
    assert summary.items.keys() == {"train", "val", "test"}
    for name, fraction in {"train": 0.7, "val": 0.2, "test": 0.1}.items():
        assert sizes[name] / 10_000 == pytest.approx(fraction, abs=0.015)
    assert summary.groups == summary.items


@pytest.mark.parametrize("strategy", ["random", "stratified"])
def test_groups_are_never_split(strategy: str) -> None:
    records = imbalanced(2000)
    records += [record(i, ["c1"]) for i in range(2000, 2050)]  # no key: a group each
    assigned, summary = run(records, strategy=strategy, group_by="seq")
    by_group: dict[object, set[str]] = defaultdict(set)
    for r in records:
        by_group[r.item.metadata.get("seq", r.item.key)].add(assigned[r.item.key])
    assert all(len(splits) == 1 for splits in by_group.values())
    assert sum(summary.groups.values()) == len(by_group) == 500 + 50
    assert all(n > 0 for n in summary.items.values())


@pytest.mark.parametrize("strategy", ["random", "stratified"])
def test_group_by_dataset_keeps_each_dataset_in_one_split(strategy: str) -> None:
    records = [record(i, ["c0"], dataset=f"cam{i % 6}", dataset_meta="ignored")
               for i in range(120)]
    assigned, summary = run(records, split="train=0.5,val=0.5", strategy=strategy,
                            group_by="dataset")
    by_dataset: dict[str, set[str]] = defaultdict(set)
    for r in records:
        by_dataset[r.item.dataset].add(assigned[r.item.key])
    assert all(len(splits) == 1 for splits in by_dataset.values())
    assert sum(summary.groups.values()) == 6 and set(assigned.values()) == {"train", "val"}


@pytest.mark.parametrize("strategy", ["random", "stratified"])
def test_group_by_a_key_no_item_has_is_an_error(strategy: str) -> None:
    with pytest.raises(InputError, match=r"--group-by 'sequence': no item has the metadata "
                                         r"key 'sequence'.*'dataset'"):
        run(imbalanced(40), strategy=strategy, group_by="sequence")
    run([], strategy=strategy, group_by="sequence")  # nothing to group: nothing to say


def test_group_keys_compare_as_json_values() -> None:
    """3 and "3" are different groups; a nested value is a key like any other."""
    records = [record(i, video={"id": 1, "cam": "a"}) for i in range(20)]
    records += [record(100 + i, video={"cam": "a", "id": 1}) for i in range(5)]
    assigned, summary = run(records, split="a=0.5,b=0.5", group_by="video")
    assert len(set(assigned.values())) == 1
    assert sum(summary.groups.values()) == 1


# --- tiny projects ------------------------------------------------------------------------

@pytest.mark.parametrize(("n", "split"), [
    (3, "train=0.8,val=0.2"),
    (3, "train=0.98,val=0.01,test=0.01"),
    (5, "a=0.96,b=0.01,c=0.01,d=0.01,e=0.01"),
    (12, "train=0.9,val=0.05,test=0.05"),
])
@pytest.mark.parametrize("strategy", ["random", "stratified"])
def test_no_split_is_left_empty_when_there_are_enough_groups(n: int, split: str,
                                                             strategy: str) -> None:
    records = [record(i, ["c0"] if i % 2 else []) for i in range(n)]
    report = Report()
    assigned, summary = run(records, split=split, strategy=strategy, report=report, seed=1)
    assert Counter(assigned.values()) == summary.items
    assert all(summary.items[name] > 0 for name in parse_split(split))
    if summary.moved_groups:
        assert report.counts["split: items moved to fill an empty split"] == summary.moved_groups
        assert "adding items can move them again" in report.messages[0]
    again, _ = run(records, split=split, strategy=strategy, seed=1)
    assert again == assigned


def test_rescue_moves_the_fewest_groups_and_keeps_groups_whole() -> None:
    records = [record(i, seq=i // 10) for i in range(30)]  # 3 groups of 10 items
    assigned, summary = run(records, split="train=0.98,val=0.01,test=0.01", group_by="seq")
    assert summary.items == {"train": 10, "val": 10, "test": 10}
    assert summary.groups == {"train": 1, "val": 1, "test": 1}
    assert summary.moved_groups == 2


def test_too_few_groups_leave_a_split_empty_and_say_so() -> None:
    records = [record(i, seq=0) for i in range(10)]
    report = Report()
    _, summary = run(records, report=report, group_by="seq")
    assert sorted(summary.items.values()) == [0, 0, 10]
    assert summary.moved_groups == 0
    assert "1 group(s) cannot fill 3 splits" in report.messages[0]


# --- stratified -----------------------------------------------------------------------------

def test_stratified_reports_its_deviation_and_beats_random() -> None:
    records = imbalanced(4000)
    strat, strat_summary = run(records, strategy="stratified", group_by="seq")
    rand, rand_summary = run(records, group_by="seq")
    assert strat_summary.max_deviation == pytest.approx(deviation(records, strat), abs=1e-12)
    assert rand_summary.max_deviation == pytest.approx(deviation(records, rand), abs=1e-12)
    assert strat_summary.max_deviation < rand_summary.max_deviation / 3
    assert strat_summary.max_deviation < 0.005
    assert max(strat_summary.class_deviation.values()) == strat_summary.max_deviation
    for name, fraction in {"train": 0.7, "val": 0.2, "test": 0.1}.items():
        assert strat_summary.items[name] / 4000 == pytest.approx(fraction, abs=0.01)


def test_stratified_class_counts_match_the_output() -> None:
    records = imbalanced(800)
    assigned, summary = run(records, strategy="stratified")
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        counts[assigned[r.item.key]].update(a.label for a in r.annotations)
    assert {s: {c: n for c, n in per.items() if n} for s, per in summary.class_counts.items()} \
        == {s: dict(c) for s, c in counts.items()}
    assert all(list(per) == list(CLASSES) for per in summary.class_counts.values())


def test_stratified_is_deterministic_by_seed() -> None:
    records = imbalanced(600)
    first, _ = run(records, strategy="stratified", seed=11)
    again, _ = run(list(reversed(records)), strategy="stratified", seed=11)
    other, _ = run(records, strategy="stratified", seed=12)
    assert first == again
    assert first != other


def test_stratified_spreads_a_rare_class_over_the_splits() -> None:
    records = [record(i, ["c0"]) for i in range(40)]
    records += [record(100, ["c7"]), record(101, ["c7"]), record(102, ["c7"])]
    assigned, summary = run(records, split=THREE_WAY, strategy="stratified")
    assert {assigned[r.item.key] for r in records[-3:]} == {"train", "val", "test"}
    assert all(summary.class_counts[s]["c7"] == 1 for s in ("train", "val", "test"))


# --- field and predefined -------------------------------------------------------------------

def test_field_strategy_takes_the_split_from_metadata() -> None:
    records = [record(0, fold="val"), record(1, fold="train"), record(2, fold=3), record(3),
               record(4, fold="")]
    report = Report()
    assigned, summary = run(records, split=None, strategy="field", split_field="fold",
                            report=report)
    assert list(assigned.values()) == ["val", "train", "3", "train", "train"]
    assert summary.items == {"3": 1, "train": 3, "val": 1}
    assert report.counts == {"split: items without a metadata field 'fold', put in train": 2}


def test_field_strategy_checks_names_against_the_declared_splits() -> None:
    records = [record(0, fold="val"), record(1, fold="vaild")]
    with pytest.raises(InputError, match=r"d/img/000001.jpg: metadata field 'fold' 'vaild' is "
                                         "not one of the splits train, val"):
        run(records, split="train=0.5,val=0.5", strategy="field", split_field="fold")
    declared, summary = run(records[:1], split="train=0.5,val=0.5", strategy="field",
                            split_field="fold")
    assert summary.items == {"train": 0, "val": 1}


@pytest.mark.parametrize(("value", "message"), [
    ("../etc", "not a valid split name"),
    (["train"], "expected a split name"),
    (True, "expected a split name"),
])
def test_field_strategy_refuses_bad_values(value: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        run([record(0, fold=value)], split=None, strategy="field", split_field="fold")


def test_field_strategy_without_a_default_refuses_items_without_the_field() -> None:
    with pytest.raises(InputError, match="d/img/000001.jpg has no metadata field 'fold'"):
        run([record(0, fold="val"), record(1)], split=None, strategy="field",
            split_field="fold", default=None)


def test_predefined_keeps_the_given_split() -> None:
    records = [record(0, split="val"), record(1, split="train2017"), record(2)]
    report = Report()
    assigned, summary = run(records, split=None, strategy="predefined", default="holdout",
                            report=report)
    assert list(assigned.values()) == ["val", "train2017", "holdout"]
    assert summary.items == {"holdout": 1, "train2017": 1, "val": 1}
    assert report.counts == {"split: items without a split, put in holdout": 1}


# --- streaming and the sample project ------------------------------------------------------

def test_the_split_source_streams_the_same_records_each_time(tmp_path: Path) -> None:
    sample = build_sample(tmp_path)
    report = Report()
    spec = SplitSpec.parse("train=0.5,val=0.5", group_by="camera")
    out, summary = assign_splits(sample, spec, report)
    first = list(out.records())
    assert list(out.records()) == first
    assert len(out) == len(sample) == len(first)
    assert [r.item for r in first] == [r.item for r in sample.records()]
    by_camera: dict[object, set[str | None]] = defaultdict(set)
    for r in first:
        by_camera[r.item.metadata["camera"]].add(r.split)
    assert len(by_camera) == 2 and all(len(s) == 1 for s in by_camera.values())
    assert summary.groups == {"train": 1, "val": 1}  # 2 cameras, 2 splits: none left empty
    assert list(summary.class_counts["train"]) == list(sample.schema.class_names)
    manifest = orjson.loads(orjson.dumps(summary.to_json()))
    assert manifest["items"] == summary.items
    assert manifest["strategy"] == "random" and manifest["fractions"] == {"train": 0.5,
                                                                           "val": 0.5}
    moved_items = report.counts["split: items moved to fill an empty split"]
    assert summary.moved_groups == 1 and 0 < moved_items < len(first)  # both cameras hashed alike


def test_stratified_on_the_sample_project(tmp_path: Path) -> None:
    sample = build_sample(tmp_path)
    out, summary = assign_splits(sample, SplitSpec.parse(THREE_WAY, strategy="stratified"),
                                 Report())
    assigned = Counter(r.split for r in out.records())
    assert assigned == summary.items
    assert all(n > 0 for n in summary.items.values())


@pytest.mark.parametrize("options", [
    {"strategy": "stratified", "group_by": "seq"},
    {"strategy": "random", "seed": 3},  # 3 items, 3 splits: two moved to fill empty splits
    {"strategy": "field", "split_field": "seq", "default": "0"},
])
def test_a_split_plan_travels_as_bytes_and_splits_a_shard_as_the_whole(
        options: dict[str, Any]) -> None:
    """A plan computed over the whole source, sent as bytes, gives a slice of the source (a
    shard) the splits the whole export gives those items, with the whole's summary and report."""
    records = imbalanced(12) if options["strategy"] != "random" else plain(3)
    split = "0=0.5,1=0.3,2=0.2" if options["strategy"] == "field" else THREE_WAY
    report = Report()
    plan = plan_splits(source(records), SplitSpec.parse(split, **options), report)
    travelled = SplitPlan.from_bytes(plan.to_bytes())
    assert travelled.summary.to_json() == plan.summary.to_json()  # as manifests hold it
    assert travelled.spec == plan.spec
    assert travelled.reported.counts == report.counts
    assert bool(plan.table) == (options["strategy"] != "field")
    whole = {r.item.key: r.split for r in apply_plan(source(records), plan).records()}
    shard = apply_plan(source(records[len(records) // 2:]), travelled)
    assert len(shard) == len(records) - len(records) // 2
    assert all(whole[r.item.key] == r.split for r in shard.records())
    assert len(set(whole.values())) == 3
