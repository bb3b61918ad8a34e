"""Datasets (named collections of items) and labelsets (layers of annotations)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from labelport.api.deps import Manager, StoreDep, Viewer
from labelport.api.schemas import (
    DatasetCreate,
    DatasetPublic,
    DatasetUpdate,
    Id,
    LabelsetCreate,
    LabelsetPublic,
)
from labelport.store import tables as t
from labelport.store.items import StoredName

router = APIRouter(tags=["datasets"])


def _dataset(found: StoredName) -> DatasetPublic:
    return DatasetPublic(id=found.id, name=found.name, description=found.description,
                         items=found.items)


def _labelset(found: StoredName) -> LabelsetPublic:
    return LabelsetPublic(id=found.id, name=found.name, description=found.description)


@router.get("/projects/{project}/datasets", response_model=list[DatasetPublic])
def list_datasets(access: Viewer, store: StoreDep) -> list[DatasetPublic]:
    return [_dataset(d) for d in store.items.names(t.datasets, access.id)]


@router.post("/projects/{project}/datasets", response_model=DatasetPublic, status_code=201)
def create_dataset(body: DatasetCreate, access: Manager, store: StoreDep) -> DatasetPublic:
    return _dataset(store.items.create_name(t.datasets, access.id, body.name,
                                            body.description))


@router.get("/projects/{project}/datasets/{dataset_id}", response_model=DatasetPublic)
def get_dataset(dataset_id: Id, access: Viewer, store: StoreDep) -> DatasetPublic:
    return _dataset(store.items.name(t.datasets, access.id, dataset_id))


@router.patch("/projects/{project}/datasets/{dataset_id}", response_model=DatasetPublic)
def update_dataset(dataset_id: Id, body: DatasetUpdate, access: Manager, store: StoreDep
                   ) -> DatasetPublic:
    return _dataset(store.items.update_name(t.datasets, access.id, dataset_id, name=body.name,
                                            description=body.description))


@router.delete("/projects/{project}/datasets/{dataset_id}", status_code=204)
def delete_dataset(dataset_id: Id, access: Manager, store: StoreDep) -> Response:
    store.items.delete_dataset(access.id, dataset_id)
    return Response(status_code=204)


@router.get("/projects/{project}/labelsets", response_model=list[LabelsetPublic])
def list_labelsets(access: Viewer, store: StoreDep) -> list[LabelsetPublic]:
    return [_labelset(ls) for ls in store.items.names(t.labelsets, access.id)]


@router.post("/projects/{project}/labelsets", response_model=LabelsetPublic, status_code=201)
def create_labelset(body: LabelsetCreate, access: Manager, store: StoreDep) -> LabelsetPublic:
    return _labelset(store.items.create_name(t.labelsets, access.id, body.name,
                                             body.description))
