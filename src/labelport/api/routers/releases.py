"""Releases: immutable, versioned snapshots of a project's selection, addressed by name."""

from __future__ import annotations

from fastapi import APIRouter

from labelport.api.deps import Manager, StoreDep, Viewer
from labelport.api.schemas import ReleaseCreate, ReleaseDiffPublic, ReleasePublic
from labelport.errors import InputError
from labelport.export.request import selection_from_json
from labelport.export.selection import Selection, select
from labelport.formats.base import Report
from labelport.store.releases import ReleaseInfo

router = APIRouter(tags=["releases"])


def _public(info: ReleaseInfo) -> ReleasePublic:
    return ReleasePublic(name=info.name, version=info.version, description=info.description,
                         selection=dict(info.selection), items=info.items,
                         annotations=info.annotations, created_at=info.created_at)


@router.get("/projects/{project}/releases", response_model=list[ReleasePublic])
def list_releases(access: Viewer, store: StoreDep) -> list[ReleasePublic]:
    return [_public(info) for info in store.list_releases(access.name)]


@router.post("/projects/{project}/releases", response_model=ReleasePublic, status_code=201)
def create_release(body: ReleaseCreate, access: Manager, store: StoreDep) -> ReleasePublic:
    """Freeze what the selection picks (as an export's `selection`; `{}`: the default
    selection of the ground-truth labelset)."""
    try:
        chosen = selection_from_json(body.selection) or Selection()
    except (TypeError, ValueError) as exc:
        raise InputError(f"selection: {exc}") from None
    source = select(store.source(access.name, labelsets=[chosen.labelset]), chosen, Report())
    return _public(store.create_release(access.name, body.name, source,
                                        description=body.description,
                                        selection=chosen.to_json()))


@router.get("/projects/{project}/releases/{name}", response_model=ReleasePublic)
def get_release(name: str, access: Viewer, store: StoreDep) -> ReleasePublic:
    return _public(store.release(access.name, name))


@router.get("/projects/{project}/releases/{name}/diff/{other}",
            response_model=ReleaseDiffPublic, response_model_by_alias=True)
def diff_releases(name: str, other: str, access: Viewer, store: StoreDep) -> ReleaseDiffPublic:
    """Items added, removed and changed from release `name` to release `other`."""
    diff = store.release_diff(access.name, name, other)
    return ReleaseDiffPublic.model_validate(diff.to_json())
