"""The registered formats, from the registry: what each reads, writes and carries."""

from __future__ import annotations

from fastapi import APIRouter

from labelport.api.schemas import FormatOptionPublic, FormatPublic
from labelport.formats.base import FormatSpec
from labelport.formats.registry import all_formats, get_format

router = APIRouter(tags=["formats"])


def _public(spec: FormatSpec) -> FormatPublic:
    c = spec.conventions
    return FormatPublic(
        name=spec.name, title=spec.title, extension=spec.extension,
        read=spec.reader is not None, write=spec.writer is not None,
        geometries=sorted(g.value for g in spec.geometries), attributes=spec.attributes,
        scores=spec.scores, splits=spec.splits, media=spec.media, lossless=spec.lossless,
        options=[FormatOptionPublic(name=o.name, type=o.type.__name__, default=o.default,
                                    help=o.help, choices=list(o.choices))
                 for o in spec.options],
        conventions={"origin": c.origin, "coordinates": c.coordinates,
                     "index_base": c.index_base, "ids": c.ids, "notes": c.notes},
        shardable=spec.merge_shards is not None, unshardable=spec.unshardable)


@router.get("/formats", response_model=list[FormatPublic])
def list_formats() -> list[FormatPublic]:
    return [_public(spec) for spec in all_formats()]


@router.get("/formats/{name}", response_model=FormatPublic)
def show_format(name: str) -> FormatPublic:
    return _public(get_format(name))
