"""Delta exports, pure: what a release's hashes say was added, changed or removed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from labelport.domain.model import ItemRecord
from labelport.domain.source import MemorySource
from labelport.export.releases import delta_source
from labelport.sample import build_sample
from labelport.store.releases import content_hash


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return build_sample(tmp_path_factory.mktemp("media"))


def _hashes(records: tuple[ItemRecord, ...]) -> dict[str, str]:
    return {r.item.key: content_hash(r) for r in records}


def _renamed(record: ItemRecord, path: str) -> ItemRecord:
    return replace(record, item=replace(record.item, path=path))


def test_nothing_changed_gives_an_empty_delta(sample: MemorySource) -> None:
    delta = delta_source(sample, "v1", _hashes(sample.items))

    assert list(delta.source.records()) == [] and len(delta.source) == 0
    assert (delta.added, delta.changed, delta.removed) == (0, 0, ())
    assert delta.source.schema == sample.schema and delta.source.labelsets == sample.labelsets


def test_added_changed_and_removed(sample: MemorySource) -> None:
    first, second, third, *rest = sample.items
    with_annotations = next(r for r in rest if r.annotations)
    frozen = _hashes((first, second, third, with_annotations))
    fewer = replace(with_annotations, annotations=with_annotations.annotations[1:])
    added = _renamed(first, "brand-new.jpg")
    current = replace(sample, items=(first, fewer, third, added))

    delta = delta_source(current, "v1", frozen)

    assert [r.item.key for r in delta.source.records()] == [fewer.item.key, added.item.key]
    assert list(delta.source.records()) == [fewer, added]  # records pass unchanged, re-readable
    assert len(delta.source) == 2
    assert delta.to_json() == {"since_release": "v1", "added": 1, "changed": 1,
                               "removed": [second.item.key]}


@pytest.mark.parametrize(("change", "counts_as_change"), [
    (lambda r: replace(r, split="val"), False),
    (lambda r: replace(r, item=replace(r.item, id=999)), False),
    (lambda r: replace(r, item=replace(r.item, metadata={**r.item.metadata, "k": 1})), True),
    (lambda r: replace(r, item=replace(r.item, width=r.item.width + 1)), True),
    (lambda r: replace(r, tasks=()), True),
    (lambda r: replace(r, annotations=r.annotations[::-1]), True),
])
def test_what_counts_as_a_change(sample: MemorySource, change: Callable[[ItemRecord], ItemRecord],
                                 counts_as_change: bool) -> None:
    record = next(r for r in sample.items if len(r.annotations) > 1 and r.tasks)
    changed = change(record)

    assert (content_hash(changed) != content_hash(record)) is counts_as_change
