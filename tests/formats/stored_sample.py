"""The sample project as the store holds it, for the tests where a third-party reader loads our
export and the test compares what it found with the store, object by object.

The project goes into a SQLite store through `Store.import_source` and comes back through
`Store.source` (ground truth only, as an export of one labelset carries), so what the readers are
compared with is what the store holds, not the builder's values. Items get the splits
``train``, ``val``, ``test`` in turn (in the store's item order), so readers meet every subset.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from labelport.domain.geometry import GeometryKind
from labelport.domain.model import DEFAULT_LABELSET, Annotation, ItemRecord
from labelport.domain.schema import LabelSchema
from labelport.domain.source import MemorySource
from labelport.sample import build_sample
from labelport.store import open_store

PROJECT = "sample"
SPLITS = ("train", "val", "test")


def stored_sample(folder: Path) -> MemorySource:
    """Import the sample project (images under ``folder / "media"``) into a store in ``folder``
    and read its ground truth back."""
    store = open_store(str(folder / "labelport.db"))
    try:
        built = build_sample(folder / "media")
        store.create_project(PROJECT, LabelSchema(), description=built.project.description)
        store.import_source(PROJECT, built)
        streamed = store.source(PROJECT, labelsets=[DEFAULT_LABELSET])
        records = tuple(replace(r, split=SPLITS[i % len(SPLITS)])
                        for i, r in enumerate(streamed.records()))
        return MemorySource(project=streamed.project, schema=streamed.schema, items=records,
                            datasets=streamed.datasets, labelsets=streamed.labelsets)
    finally:
        store.close()


def objects(record: ItemRecord, *kinds: GeometryKind) -> list[Annotation]:
    """The record's annotations of the given geometry kinds (all that have a geometry when none
    are given), in stored order."""
    wanted = set(kinds) or set(GeometryKind) - {GeometryKind.NONE}
    return [a for a in record.annotations if a.geometry.kind in wanted]
