"""Items: list, bulk create (sizes and media URIs given), upload of images (sizes read from the
file's header, EXIF orientation honoured) and videos (probed with PyAV), read, update,
delete."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from labelport.api.deps import Manager, SettingsDep, StoreDep, Viewer
from labelport.api.pagination import Page, PageParams, page_params, paginate
from labelport.api.schemas import BulkResult, Id, ItemCreate, ItemPublic, ItemUpdate
from labelport.domain.codec import video_info_to_json
from labelport.domain.model import DEFAULT_DATASET, Item
from labelport.errors import InputError
from labelport.export.media_access import uploads_folder
from labelport.media_items import file_item
from labelport.store.items import StoredItem

router = APIRouter(tags=["items"])


def item_public(found: StoredItem) -> ItemPublic:
    i = found.item
    return ItemPublic(id=found.id, dataset=i.dataset, dataset_id=found.dataset_id, path=i.path,
                      width=i.width, height=i.height, media_uri=i.media_uri,
                      metadata=dict(i.metadata), frame_count=i.frame_count,
                      video=None if i.video is None else video_info_to_json(i.video))


@router.get("/projects/{project}/items", response_model=Page[ItemPublic])
def list_items(request: Request, access: Viewer, store: StoreDep,
               paging: Annotated[PageParams, Depends(page_params)],
               dataset_id: Id | None = None) -> Page[ItemPublic]:
    found = store.items.items(access.id, dataset_id=dataset_id, offset=paging.offset,
                              limit=paging.page_size)
    return paginate(request, paging, found.count, [item_public(i) for i in found.rows])


@router.post("/projects/{project}/items", response_model=BulkResult, status_code=201)
def create_items(body: list[ItemCreate], access: Manager, store: StoreDep) -> BulkResult:
    """Add items in bulk, all or nothing; each gets a `new` task in `ground-truth`."""
    ids = store.items.create_items(access.id, [
        Item(dataset=i.dataset, path=i.path, width=i.width, height=i.height,
             media_uri=i.media_uri, metadata=i.metadata) for i in body])
    return BulkResult(created=len(ids), ids=ids)


@router.post("/projects/{project}/items/upload", response_model=BulkResult, status_code=201)
def upload_images(files: Annotated[list[UploadFile], File(
        description="Image or video files (videos by suffix: .mp4, .mov, .mkv, .webm...).")],
                  access: Manager, store: StoreDep, settings: SettingsDep,
                  dataset: Annotated[str, Form(min_length=1, max_length=255)] = DEFAULT_DATASET,
                  ) -> BulkResult:
    """Store uploaded images under the media folder and add them as items, all or nothing;
    width and height come from each file's header (EXIF orientation honoured)."""
    folder = uploads_folder(settings.media_dir, access.id) / quote(f"d-{dataset}", safe="")
    folder.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        items = []
        for upload in files:
            name = Path(upload.filename or "").name
            if name in ("", ".", ".."):
                raise InputError(f"upload {upload.filename!r} has no usable file name")
            with tempfile.NamedTemporaryFile(dir=folder, suffix=Path(name).suffix,
                                             delete=False) as out:
                while chunk := upload.file.read(1 << 20):
                    out.write(chunk)
            staged.append((Path(out.name), folder / name))
            try:
                items.append(file_item(Path(out.name), dataset=dataset, name=name,
                                       media_uri=str((folder / name).resolve())))
            except InputError as error:  # said of the upload, not of the server's file
                reason = str(error).removeprefix(f"{out.name}: ").replace(out.name, name)
                raise InputError(f"upload {name!r}: {reason}") from None
        ids = store.items.create_items(access.id, items)
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, final in staged:
        temporary.replace(final)
    return BulkResult(created=len(ids), ids=ids)


@router.get("/projects/{project}/items/{item_id}", response_model=ItemPublic)
def get_item(item_id: Id, access: Viewer, store: StoreDep) -> ItemPublic:
    return item_public(store.items.item(access.id, item_id))


@router.patch("/projects/{project}/items/{item_id}", response_model=ItemPublic)
def update_item(item_id: Id, body: ItemUpdate, access: Manager, store: StoreDep
                ) -> ItemPublic:
    return item_public(store.items.update_item(
        access.id, item_id, width=body.width, height=body.height, media_uri=body.media_uri,
        metadata=body.metadata))


@router.delete("/projects/{project}/items/{item_id}", status_code=204)
def delete_item(item_id: Id, access: Manager, store: StoreDep) -> Response:
    store.items.delete_item(access.id, item_id)
    return Response(status_code=204)
