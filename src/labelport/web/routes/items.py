"""The Items tab: a keyset-paginated grid of thumbnails with their annotations drawn in SVG,
filters, ground truth and predictions apart, checkboxes and "Export selected"; an item's page;
the thumbnails themselves (through the project's media access policy)."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import FileResponse, Response

from labelport.api.deps import StoreDep
from labelport.domain.model import DEFAULT_LABELSET, Annotation, ItemRecord, Source, TaskStatus
from labelport.errors import LabelportError, NotFoundError
from labelport.export.media import local_media_path
from labelport.store import Store
from labelport.store.browse import ItemFilter, ItemPage, item_page, item_record, names_of
from labelport.web.deps import ProjectPage, may_export
from labelport.web.drawing import class_colours, shapes
from labelport.web.templating import render
from labelport.web.thumbnails import SIDES, Thumbnails
from labelport.web.video import frame_boxes

router = APIRouter()

SHOW = {"gt": (Source.HUMAN,), "pred": (Source.MODEL,), "both": (Source.HUMAN, Source.MODEL)}
"""The ground truth / predictions toggle: which annotation sources are drawn."""


def _shown(record: ItemRecord, show: str) -> list[Annotation]:
    sources = SHOW.get(show, SHOW["gt"])
    return [a for a in record.annotations if a.source in sources]


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@router.get("/projects/{project}/items")
def items_page(request: Request, access: ProjectPage, store: StoreDep,
               dataset: str | None = None, labelset: str = DEFAULT_LABELSET,
               status: str | None = None, label: str | None = None,
               annotator: str | None = None, name: str | None = None, show: str = "gt",
               after: Annotated[int, Query(ge=0)] = 0,
               size: Annotated[int, Query(ge=1, le=200)] = 48) -> Response:
    chosen = ItemFilter(dataset=_blank(dataset), labelset=labelset or DEFAULT_LABELSET,
                        status=_blank(status), label=_blank(label),
                        annotator=_blank(annotator), name=_blank(name))
    error: str | None = None
    try:
        page = item_page(store.engine, access.id, chosen, after=after, limit=size)
    except LabelportError as exc:  # a filter naming nothing: said above the grid
        page, error = ItemPage(records=[], next_after=None), str(exc)
    schema = store.project_schema(access.name)
    tiles = [{"record": r, "shapes": shapes(_shown(r, show), schema, mask_side=160)}
             for r in page.records]
    query = {k: v for k, v in request.query_params.items() if k != "after"}
    return render(request, "items.html", status=400 if error else 200, access=access,
                  tab="items", may_export=may_export(access), tiles=tiles, filters=chosen,
                  show=show, choices=names_of(store.engine, access.id), error=error,
                  statuses=[s.value for s in TaskStatus], next_after=page.next_after,
                  first_page=after == 0, query=query, colours=class_colours(schema))


@router.get("/projects/{project}/items/{item_id}")
def item_detail(request: Request, item_id: int, access: ProjectPage, store: StoreDep,
                show: str = "both") -> Response:
    record = item_record(store.engine, access.id, item_id)
    schema = store.project_schema(access.name)
    colours = class_colours(schema)
    video = record.item.video
    return render(request, "item.html", access=access, tab="items",
                  may_export=may_export(access), record=record, show=show,
                  shapes=[] if record.item.is_video else shapes(_shown(record, show), schema,
                                                                 mask_side=1024),
                  colours=colours,
                  frame_rate=float(video.frame_rate) if video is not None else None,
                  frames=frame_boxes(record.item, _shown(record, show), colours)
                  if record.item.is_video else None)


@router.get("/projects/{project}/items/{item_id}/video")
def item_video(request: Request, item_id: int, access: ProjectPage,
               store: StoreDep) -> Response:
    """A video item's file (through the project's media access policy; byte ranges served,
    so the player can seek)."""
    record = item_record(store.engine, access.id, item_id)
    source = local_media_path(record.item) if record.item.is_video else None
    if source is None:
        raise NotFoundError(f"item {record.item.key} has no local video")
    source = request.app.state.settings.jobs.media_access(access.id).local_file(
        source, what=f"media of {record.item.key}")
    if not source.is_file():
        raise NotFoundError(f"media of {record.item.key}: no file at {str(source)!r}")
    return FileResponse(source, media_type=mimetypes.guess_type(source.name)[0] or
                        "application/octet-stream")


@router.get("/projects/{project}/items/{item_id}/image")
def item_image(request: Request, item_id: int, access: ProjectPage, store: StoreDep,
               size: str = "thumb") -> Response:
    """The item's picture at ``size`` (thumb or large), made once and cached."""
    if size not in SIDES:
        size = "thumb"
    record = item_record(store.engine, access.id, item_id)
    path = thumbnails(request, store).get(
        record.item, request.app.state.settings.jobs.media_access(access.id), size=size)
    return FileResponse(path, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})


def thumbnails(request: Request, store: Store) -> Thumbnails:
    """The app's thumbnail maker (one per app: it bounds how many are made at once)."""
    state: Any = request.app.state
    if getattr(state, "thumbnails", None) is None:
        state.thumbnails = Thumbnails(Path(state.settings.media_dir) / ".thumbnails")
    made: Thumbnails = state.thumbnails
    return made
