"""Delta exports: only what was added or changed since a release, and what was removed.

An item counts as changed when its content hash (`labelport.store.releases.content_hash`: the
native item JSON without its split) differs from the one the release froze for its key
(``dataset/path``). Removed items cannot be exported, so their keys go to the manifest.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from labelport.domain.codec import Json
from labelport.domain.model import ItemRecord
from labelport.domain.source import ExportSource, StreamSource


@dataclass(frozen=True, slots=True, kw_only=True)
class Delta:
    """A delta source and what it left out, for the manifest."""

    source: ExportSource
    since: str
    added: int
    changed: int
    removed: tuple[str, ...]
    """Keys of the release's items the current source no longer has, sorted."""

    def to_json(self) -> Json:
        return {"since_release": self.since, "added": self.added, "changed": self.changed,
                "removed": list(self.removed)}


def delta_source(current: ExportSource, since: str, hashes: Mapping[str, str]) -> Delta:
    """The records of ``current`` added or changed since the release ``since``, whose content
    hashes by key are ``hashes`` (`labelport.store.Store.release_hashes`).

    A first pass hashes every current record and keeps only the keys to export, so memory
    grows with the number of items, never with their annotations; the delta's records re-run
    ``current`` and keep those keys, in ``current``'s order."""
    from labelport.store.releases import content_hash  # the store: only for a delta export

    emit: set[str] = set()
    remaining = set(hashes)
    added = 0
    for record in current.records():
        key = record.item.key
        frozen = hashes.get(key)
        remaining.discard(key)
        if frozen is None:
            added += 1
            emit.add(key)
        elif frozen != content_hash(record):
            emit.add(key)

    def open_records() -> Iterator[ItemRecord]:
        return (r for r in current.records() if r.item.key in emit)

    source = StreamSource(project=current.project, schema=current.schema, count=len(emit),
                          open_records=open_records, datasets=current.datasets,
                          labelsets=current.labelsets)
    return Delta(source=source, since=since, added=added, changed=len(emit) - added,
                 removed=tuple(sorted(remaining)))
