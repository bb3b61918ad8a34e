"""Releases: immutable, named, versioned snapshots of a project's selection (Segments.ai's
releases), stored so that later edits and imports of the project never change them.

A release holds, as of its creation, the native format's header (project, schema, datasets,
labelsets, and whether an item is a video) and one row per item with the native format's item JSON
(`labelport.formats.labelport_native.record_to_item_json`, keys sorted) and its content hash.
So a release reads back as the very records it froze, and written out it is a native JSON Lines
file. Rows are only ever inserted: there is nothing to update.

The content hash of an item (`content_hash`) is the sha256 of its canonical item JSON without
the split: a split is assigned by an export, it is not the item's content, so a release taken
after a split and a project streamed before one still compare equal item by item. Comparing a
release with another (`release_diff`) or with the current project (the export pipeline's delta,
`labelport.export.releases`) compares these hashes.

Every function runs on the connection (and transaction) its caller gives it, except
`open_release_source`, whose passes open their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from labelport.domain.codec import (
    Json,
    annotation_from_json,
    item_from_json,
    schema_from_json,
    task_from_json,
)
from labelport.domain.model import Dataset, Item, ItemRecord, Labelset, ProjectInfo
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, unknown
from labelport.formats.labelport_native import header_to_json, record_to_item_json
from labelport.store import projects, rows
from labelport.store import tables as t
from labelport.store.streaming import page_sizes

_SORTED = orjson.OPT_SORT_KEYS
_VIDEOS = "videos"
"""The header's key saying whether the release holds a video (`StreamSource.videos`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseInfo:
    project: str
    name: str
    version: int
    description: str
    selection: Mapping[str, Any]
    """The selection that chose the items, as the caller described it (for manifests)."""
    items: int
    annotations: int
    created_at: datetime | None

    def to_json(self) -> Json:
        created = self.created_at.isoformat() if self.created_at else None
        return {"project": self.project, "name": self.name, "version": self.version,
                "description": self.description, "selection": dict(self.selection),
                "items": self.items, "annotations": self.annotations, "created_at": created}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseDiff:
    """What changed from release ``a`` to release ``b``, by item key (``dataset/path``),
    each tuple sorted."""

    a: str
    b: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: int = 0

    def to_json(self) -> Json:
        return {"from": self.a, "to": self.b, "added": list(self.added),
                "removed": list(self.removed), "changed": list(self.changed),
                "unchanged": self.unchanged}


def content_hash(record: ItemRecord) -> str:
    """sha256 (hex) of ``record``'s canonical item JSON without its split; see the module."""
    return _hash(record_to_item_json(record))


def _hash(item_json: Json, data: bytes | None = None) -> str:
    """The hash of ``item_json``; ``data``, its encoding, is reused when it has no split."""
    if data is None or "split" in item_json:
        content = {k: v for k, v in item_json.items() if k != "split"}
        data = orjson.dumps(content, option=_SORTED)
    return hashlib.sha256(data).hexdigest()


def create_release(conn: Connection, project: str, name: str, source: ExportSource, *,
                   description: str = "", selection: Mapping[str, Any] | None = None,
                   batch_size: int = 1000) -> ReleaseInfo:
    """Freeze ``source`` (the project's selected records) as release ``name`` of ``project``,
    numbered one more than the project's latest. Items are inserted ``batch_size`` at a time,
    so memory stays bounded; the caller's transaction makes it all or nothing."""
    if not name.strip():
        raise InputError("a release needs a name")
    stored = projects.find_project(conn, project)
    r = t.releases.c
    if conn.execute(select(r.id).where(r.project_id == stored.id, r.name == name)).first():
        raise InputError(f"release {name!r} already exists in project {project!r}; "
                         "a release never changes: choose another name")
    version = conn.execute(select(func.coalesce(func.max(r.version), 0))
                           .where(r.project_id == stored.id)).scalar_one() + 1
    release_id: int = conn.execute(insert(t.releases).values(
        project_id=stored.id, name=name, version=version, description=description,
        selection=rows.dump_json(dict(selection or {})),
        header="{}", item_count=0, annotation_count=0,  # completed below
    ).returning(r.id)).scalar_one()
    pending: list[dict[str, Any]] = []
    items = annotations = 0
    videos = False
    try:
        for record in source.records():
            videos = videos or record.item.is_video
            item_json = record_to_item_json(record)
            data = orjson.dumps(item_json, option=_SORTED)
            pending.append({
                "release_id": release_id, "key": record.item.key, "item_id": record.item.id,
                "content_hash": _hash(item_json, data), "data": data.decode(),
            })
            items += 1
            annotations += len(record.annotations)
            if len(pending) == batch_size:
                conn.execute(insert(t.release_items), pending)
                pending = []
        if pending:
            conn.execute(insert(t.release_items), pending)
    except IntegrityError:
        raise InputError(f"release {name!r}: an item key (dataset/path) appears more than "
                         "once in the selection; each item can be released once") from None
    # the row is not visible before the transaction commits: this completes its creation
    header = {**header_to_json(source), _VIDEOS: videos}
    conn.execute(update(t.releases).where(r.id == release_id).values(
        item_count=items, annotation_count=annotations,
        header=orjson.dumps(header, option=_SORTED).decode()))
    return release_info(conn, project, name)


def _find(conn: Connection, project: str, name: str) -> tuple[projects.StoredProject, Any]:
    """The project and its release ``name``; `unknown` listing the releases otherwise."""
    stored = projects.find_project(conn, project)
    r = t.releases.c
    row = conn.execute(select(t.releases).where(r.project_id == stored.id, r.name == name)
                       ).first()
    if row is None:
        names = conn.execute(select(r.name).where(r.project_id == stored.id)
                             .order_by(r.version)).scalars()
        raise unknown("release", name, list(names))
    return stored, row


def _info(project: str, row: Any) -> ReleaseInfo:
    return ReleaseInfo(
        project=project, name=row.name, version=row.version, description=row.description,
        selection=orjson.loads(row.selection) if row.selection else {},
        items=row.item_count, annotations=row.annotation_count,
        created_at=rows.from_db_time(row.created_at),
    )


def release_info(conn: Connection, project: str, name: str) -> ReleaseInfo:
    return _info(project, _find(conn, project, name)[1])


def list_releases(conn: Connection, project: str) -> list[ReleaseInfo]:
    """The project's releases, oldest (version 1) first."""
    stored = projects.find_project(conn, project)
    result = conn.execute(select(t.releases).where(t.releases.c.project_id == stored.id)
                          .order_by(t.releases.c.version))
    return [_info(project, row) for row in result]


def open_release_source(engine: Engine, project: str, name: str, *,
                        batch_size: int = 1000) -> StreamSource:
    """The release as a source: its header as of its creation, its records in the order they
    were frozen, streamed ``batch_size`` at a time by keyset."""
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, not {batch_size}")
    with engine.connect() as conn:
        _, row = _find(conn, project, name)
    header = orjson.loads(row.header)
    return StreamSource(
        project=ProjectInfo(**header["project"]),
        schema=schema_from_json(header["schema"]),
        count=row.item_count,
        open_records=partial(_records, engine, row.id, batch_size),
        open_from=partial(_records, engine, row.id, batch_size),
        open_items=partial(_items, engine, row.id, batch_size),
        videos=header.get(_VIDEOS),  # unknown in a release frozen before it was kept
        datasets=tuple(Dataset(**d) for d in header["datasets"]),
        labelsets=tuple(Labelset(**ls) for ls in header["labelsets"]),
    )


def _records(engine: Engine, release_id: int, batch_size: int, start: int = 0,
             stop: int | None = None) -> Iterator[ItemRecord]:
    """The records from position ``start`` up to ``stop`` (None: to the end), found by the
    index."""
    for item_id, data in _stored(engine, release_id, batch_size, start, stop):
        yield _record(orjson.loads(data), item_id)


def _items(engine: Engine, release_id: int, batch_size: int) -> Iterator[Item]:
    """The items alone: their JSON decoded, not their annotations'."""
    for item_id, data in _stored(engine, release_id, batch_size, 0):
        yield _item(orjson.loads(data), item_id)


def _stored(engine: Engine, release_id: int, batch_size: int, start: int,
            stop: int | None = None) -> Iterator[tuple[int | None, str]]:
    """Item id and stored JSON of the release's items from position ``start`` up to
    ``stop``."""
    ri = t.release_items.c
    page = (select(ri.id, ri.item_id, ri.data)
            .where(ri.release_id == release_id, ri.id > bindparam("last"))
            .order_by(ri.id).limit(bindparam("size")))
    sizes = page_sizes(batch_size, None if stop is None else stop - start)
    with engine.connect() as conn:
        last = 0
        if start > 0:  # the keyset of the record before ``start``
            before = conn.execute(select(ri.id).where(ri.release_id == release_id)
                                  .order_by(ri.id).offset(start - 1).limit(1)).scalar()
            if before is None:
                return
            last = before
        while (size := next(sizes)) and (batch := conn.execute(page, {"last": last,
                                                                      "size": size}).all()):
            last = batch[-1].id
            for _, item_id, data in batch:
                yield item_id, data


def _record(obj: Json, item_id: int | None) -> ItemRecord:
    """A stored item JSON back as the record it was, with its store id."""
    return ItemRecord(
        item=_item(obj, item_id),
        tasks=tuple(task_from_json(x) for x in obj.get("tasks", ())),
        annotations=tuple(annotation_from_json(x) for x in obj.get("annotations", ())),
        split=obj.get("split"),
    )


def _item(obj: Json, item_id: int | None) -> Item:
    if item_id is not None:
        obj["id"] = item_id
    return item_from_json(obj)


def release_hashes(conn: Connection, project: str, name: str) -> dict[str, str]:
    """Content hash by item key of every item of the release (one entry per item: bounded by
    the release's size, never by its annotations)."""
    _, row = _find(conn, project, name)
    ri = t.release_items.c
    result = conn.execute(select(ri.key, ri.content_hash).where(ri.release_id == row.id))
    return {key: digest for key, digest in result}


def release_diff(conn: Connection, project: str, a: str, b: str) -> ReleaseDiff:
    """Items added, removed and changed (by content hash) from release ``a`` to ``b``; the
    database joins the two by key, so neither release is loaded."""
    id_a, id_b = _find(conn, project, a)[1].id, _find(conn, project, b)[1].id
    old, new = t.release_items.alias("old"), t.release_items.alias("new")

    def only_in(side: Any, side_id: int, other: Any, other_id: int) -> tuple[str, ...]:
        missing = ~select(other.c.id).where(other.c.release_id == other_id,
                                            other.c.key == side.c.key).exists()
        keys = conn.execute(select(side.c.key).where(side.c.release_id == side_id, missing))
        return tuple(sorted(keys.scalars()))

    both = (select(new.c.key)
            .join(old, and_(old.c.key == new.c.key, old.c.release_id == id_a))
            .where(new.c.release_id == id_b))
    changed = conn.execute(both.where(old.c.content_hash != new.c.content_hash)).scalars()
    unchanged = conn.execute(select(func.count()).select_from(
        both.where(old.c.content_hash == new.c.content_hash).subquery())).scalar_one()
    return ReleaseDiff(a=a, b=b, added=only_in(new, id_b, old, id_a),
                       removed=only_in(old, id_a, new, id_b), changed=tuple(sorted(changed)),
                       unchanged=unchanged)


def delete_releases(conn: Connection, project_id: int) -> None:
    """Remove a project's releases, items first: only when the project itself is deleted."""
    ids = select(t.releases.c.id).where(t.releases.c.project_id == project_id)
    conn.execute(delete(t.release_items).where(t.release_items.c.release_id.in_(ids)))
    conn.execute(delete(t.releases).where(t.releases.c.project_id == project_id))
