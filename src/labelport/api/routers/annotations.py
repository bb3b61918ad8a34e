"""Annotations and predictions: list, create one or in bulk, read, update, delete.
Annotators and above write them. A prediction is an annotation with source ``model`` and a
score, in a labelset of the caller's choice (``predictions`` by default); once created it is
read, changed and deleted through ``/annotations/{id}`` like any annotation. An annotator
writes in their own name and changes only their own annotations
(`labelport.api.permissions`)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from labelport.api.deps import Annotator, StoreDep, Viewer
from labelport.api.pagination import Page, PageParams, page_params, paginate
from labelport.api.permissions import check_annotation_author, check_annotation_change
from labelport.api.schemas import (
    AnnotationCreate,
    AnnotationPublic,
    AnnotationUpdate,
    BulkResult,
    Id,
    PredictionCreate,
)
from labelport.domain.codec import geometry_from_json, geometry_to_json
from labelport.domain.geometry import Geometry, Polygon, Polyline
from labelport.domain.model import Annotation, Source
from labelport.errors import InputError
from labelport.store.annotations import StoredAnnotation

router = APIRouter(tags=["annotations"])


def parse_geometry(data: dict[str, Any]) -> Geometry:
    """A geometry from a request, refused unless every coordinate is a finite number and point
    lists hold whole points (the codec trusts stored data; a request is not)."""
    geometry = geometry_from_json(data)
    for key, value in geometry_to_json(geometry).items():
        if key == "counts":
            if not isinstance(value, str):
                raise InputError("geometry.counts: expected COCO's compressed RLE string")
        elif key != "kind":
            _check_numbers(f"geometry.{key}", value)
    rings: list[tuple[float, ...]] = []
    if isinstance(geometry, Polygon):
        rings = [ring for part in geometry.parts for ring in (part.outer, *part.holes)]
    elif isinstance(geometry, Polyline):
        rings = [geometry.points]
    if any(len(ring) % 2 for ring in rings):
        raise InputError("geometry: point lists are flat x, y pairs; one has an odd length")
    return geometry


def _check_numbers(where: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _check_numbers(f"{where}.{key}", inner)
    elif isinstance(value, list | tuple):
        for position, inner in enumerate(value):
            _check_numbers(f"{where}[{position}]", inner)
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value):
        raise InputError(f"{where}: expected a finite number, not {value!r}")


def _public(found: StoredAnnotation) -> AnnotationPublic:
    a = found.annotation
    return AnnotationPublic(
        id=found.id, item=found.item_id, labelset=a.labelset, label=a.label,
        geometry=geometry_to_json(a.geometry), attributes=dict(a.attributes), tags=list(a.tags),
        instance_id=a.instance_id, frame=a.frame, outside=a.outside, z_order=a.z_order,
        crowd=a.crowd, source=a.source.value, score=a.score, annotator=a.annotator,
        created_at=a.created_at, updated_at=a.updated_at)


def _annotation(body: AnnotationCreate, user_name: str) -> tuple[int, Annotation]:
    return body.item, Annotation(
        label=body.label, geometry=parse_geometry(body.geometry), labelset=body.labelset,
        attributes=body.attributes, tags=tuple(body.tags), instance_id=body.instance_id,
        frame=body.frame, outside=body.outside, z_order=body.z_order, crowd=body.crowd,
        annotator=body.annotator or user_name, lead_time_s=body.lead_time_s)


def _prediction(body: PredictionCreate) -> tuple[int, Annotation]:
    return body.item, Annotation(
        label=body.label, geometry=parse_geometry(body.geometry), labelset=body.labelset,
        attributes=body.attributes, source=Source.MODEL, score=body.score,
        annotator=body.model)


def _listed(request: Request, access: Viewer, store: StoreDep, paging: PageParams,
            item: int | None, labelset: str | None, source: Source | None
            ) -> Page[AnnotationPublic]:
    found = store.annotations.page(access.id, item_id=item, labelset=labelset, source=source,
                                   offset=paging.offset, limit=paging.page_size)
    return paginate(request, paging, found.count, [_public(a) for a in found.rows])


@router.get("/projects/{project}/annotations", response_model=Page[AnnotationPublic])
def list_annotations(request: Request, access: Viewer, store: StoreDep,
                     paging: Annotated[PageParams, Depends(page_params)],
                     item: Id | None = None, labelset: str | None = None,
                     source: Source | None = None) -> Page[AnnotationPublic]:
    return _listed(request, access, store, paging, item, labelset, source)


@router.post("/projects/{project}/annotations", response_model=AnnotationPublic,
             status_code=201)
def create_annotation(body: AnnotationCreate, access: Annotator, store: StoreDep
                      ) -> AnnotationPublic:
    check_annotation_author(access, body.annotator)
    (new_id,) = store.annotations.create(access.id, [_annotation(body, access.user.name)])
    return _public(store.annotations.get(access.id, new_id))


@router.post("/projects/{project}/annotations/bulk", response_model=BulkResult,
             status_code=201)
def create_annotations(body: list[AnnotationCreate], access: Annotator, store: StoreDep
                       ) -> BulkResult:
    """Add annotations in bulk, all or nothing."""
    for annotation in body:
        check_annotation_author(access, annotation.annotator)
    ids = store.annotations.create(access.id, [_annotation(a, access.user.name) for a in body])
    return BulkResult(created=len(ids), ids=ids)


@router.get("/projects/{project}/annotations/{annotation_id}", response_model=AnnotationPublic)
def get_annotation(annotation_id: Id, access: Viewer, store: StoreDep) -> AnnotationPublic:
    return _public(store.annotations.get(access.id, annotation_id))


@router.patch("/projects/{project}/annotations/{annotation_id}",
              response_model=AnnotationPublic)
def update_annotation(annotation_id: Id, body: AnnotationUpdate, access: Annotator,
                      store: StoreDep) -> AnnotationPublic:
    current = store.annotations.get(access.id, annotation_id).annotation
    check_annotation_change(access, current)
    changes: dict[str, Any] = {k: v for k, v in body.model_dump(exclude_unset=True).items()
                               if v is not None}
    if "geometry" in changes:
        changes["geometry"] = parse_geometry(changes["geometry"])
    if "tags" in changes:
        changes["tags"] = tuple(changes["tags"])
    changed = replace(current, **changes)
    return _public(store.annotations.replace(access.id, annotation_id, changed))


@router.delete("/projects/{project}/annotations/{annotation_id}", status_code=204)
def delete_annotation(annotation_id: Id, access: Annotator, store: StoreDep) -> Response:
    check_annotation_change(access, store.annotations.get(access.id, annotation_id).annotation)
    store.annotations.delete(access.id, annotation_id)
    return Response(status_code=204)


@router.get("/projects/{project}/predictions", response_model=Page[AnnotationPublic])
def list_predictions(request: Request, access: Viewer, store: StoreDep,
                     paging: Annotated[PageParams, Depends(page_params)],
                     item: Id | None = None, labelset: str | None = None
                     ) -> Page[AnnotationPublic]:
    return _listed(request, access, store, paging, item, labelset, Source.MODEL)


@router.post("/projects/{project}/predictions", response_model=AnnotationPublic,
             status_code=201)
def create_prediction(body: PredictionCreate, access: Annotator, store: StoreDep
                      ) -> AnnotationPublic:
    (new_id,) = store.annotations.create(access.id, [_prediction(body)])
    return _public(store.annotations.get(access.id, new_id))


@router.post("/projects/{project}/predictions/bulk", response_model=BulkResult,
             status_code=201)
def create_predictions(body: list[PredictionCreate], access: Annotator, store: StoreDep
                       ) -> BulkResult:
    """Add predictions in bulk, all or nothing."""
    ids = store.annotations.create(access.id, [_prediction(p) for p in body])
    return BulkResult(created=len(ids), ids=ids)
