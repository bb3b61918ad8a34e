"""Projects and their label schemas. The creator of a project is its owner; a user lists only
the projects they are a member of (an admin, all)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from labelport.api.deps import Manager, Owner, StoreDep, UserDep, Viewer
from labelport.api.pagination import Page, PageParams, page_params, paginate
from labelport.api.schemas import (
    ProjectCreate,
    ProjectPublic,
    ProjectUpdate,
    SchemaPublic,
    SchemaPut,
)
from labelport.domain.codec import schema_from_json, schema_to_json
from labelport.domain.schema import LabelSchema
from labelport.errors import InputError
from labelport.store.project_settings import ProjectDetail
from labelport.store.users import Role

router = APIRouter(tags=["projects"])


def _public(project: ProjectDetail, role: Role) -> ProjectPublic:
    return ProjectPublic(id=project.id, name=project.name, description=project.description,
                         export_role=project.export_role, created_at=project.created_at,
                         role=role)


def schema_with_ids(classes: list[Any], classifications: list[Any], *,
                    taken: Collection[int] = ()) -> LabelSchema:
    """The schema of a request; a class without an ``id`` gets the next one free (after the
    ids given and ``taken``), in order."""
    for position, c in enumerate(classes):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not c["name"]:
            raise InputError(f"schema.classes[{position}]: expected an object with a "
                             "non-empty string `name`")
    given = {c["id"] for c in classes if isinstance(c.get("id"), int)}
    next_id = max(given | set(taken), default=0) + 1
    numbered = []
    for c in classes:
        if "id" not in c:
            c = {**c, "id": next_id}
            next_id += 1
        numbered.append(c)
    return schema_from_json({"classes": numbered, "classifications": classifications})


@router.get("/projects", response_model=Page[ProjectPublic])
def list_projects(request: Request, user: UserDep, store: StoreDep,
                  paging: Annotated[PageParams, Depends(page_params)]) -> Page[ProjectPublic]:
    summaries = store.list_projects()
    if user.is_admin:
        roles = {s.id: Role.OWNER for s in summaries}
    else:
        roles = store.users.memberships(user.id)
        summaries = [s for s in summaries if s.id in roles]
    chosen = summaries[paging.offset:paging.offset + paging.page_size]
    results = [_public(store.project_settings.get(s.id), roles[s.id]) for s in chosen]
    return paginate(request, paging, len(summaries), results)


@router.post("/projects", response_model=ProjectPublic, status_code=201)
def create_project(body: ProjectCreate, user: UserDep, store: StoreDep) -> ProjectPublic:
    document = body.label_schema or {}
    schema = schema_with_ids(list(document.get("classes") or []),
                             list(document.get("classifications") or []))
    project = store.project_settings.create(body.name, schema, description=body.description,
                                            owner_id=user.id)
    return _public(project, Role.OWNER)


@router.get("/projects/{project}", response_model=ProjectPublic)
def get_project(access: Viewer) -> ProjectPublic:
    return _public(access.project, access.role)


@router.patch("/projects/{project}", response_model=ProjectPublic)
def update_project(body: ProjectUpdate, access: Manager, store: StoreDep) -> ProjectPublic:
    project = store.project_settings.update(
        access.id, name=body.name, description=body.description,
        export_role=body.export_role.value if body.export_role else None)
    return _public(project, access.role)


@router.delete("/projects/{project}", status_code=204)
def delete_project(access: Owner, store: StoreDep) -> Response:
    store.delete_project(access.name)
    return Response(status_code=204)


@router.get("/projects/{project}/schema", response_model=SchemaPublic)
def get_schema(access: Viewer, store: StoreDep) -> SchemaPublic:
    return SchemaPublic(**schema_to_json(store.project_schema(access.name)))


@router.put("/projects/{project}/schema", response_model=SchemaPublic)
def put_schema(body: SchemaPut, access: Manager, store: StoreDep) -> SchemaPublic:
    taken = {c.id for c in store.project_schema(access.name).classes}
    schema = schema_with_ids(body.classes, body.classifications, taken=taken)
    return SchemaPublic(**schema_to_json(store.project_settings.put_schema(access.id, schema)))
