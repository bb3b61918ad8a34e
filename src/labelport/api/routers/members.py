"""A project's members and their roles, managed by its owners and managers. Only an owner
grants or takes away the owner role."""

from __future__ import annotations

from fastapi import APIRouter, Response

from labelport.api.deps import Manager, ProjectAccess, StoreDep, Viewer
from labelport.api.errors import PermissionDeniedError
from labelport.api.schemas import MemberCreate, MemberPublic, MemberUpdate, UserPublic
from labelport.store.users import Member, Role

router = APIRouter(tags=["members"])


def _public(member: Member) -> MemberPublic:
    u = member.user
    return MemberPublic(user=UserPublic(id=u.id, name=u.name, is_admin=u.is_admin),
                        role=member.role)


def _check_owner_change(access: ProjectAccess, store_role: Role | None, new: Role) -> None:
    if Role.OWNER in (store_role, new) and access.role is not Role.OWNER:
        raise PermissionDeniedError("only an owner can grant or take away the owner role")


@router.get("/projects/{project}/members", response_model=list[MemberPublic])
def list_members(access: Viewer, store: StoreDep) -> list[MemberPublic]:
    return [_public(m) for m in store.users.members(access.id)]


@router.post("/projects/{project}/members", response_model=MemberPublic, status_code=201)
def add_member(body: MemberCreate, access: Manager, store: StoreDep) -> MemberPublic:
    user = store.users.user(body.user)
    _check_owner_change(access, store.users.role(access.id, user.id), body.role)
    return _public(store.users.set_member(access.id, body.user, body.role))


@router.patch("/projects/{project}/members/{user}", response_model=MemberPublic)
def update_member(user: str, body: MemberUpdate, access: Manager, store: StoreDep
                  ) -> MemberPublic:
    found = store.users.user(user)
    _check_owner_change(access, store.users.role(access.id, found.id), body.role)
    return _public(store.users.set_member(access.id, user, body.role))


@router.delete("/projects/{project}/members/{user}", status_code=204)
def remove_member(user: str, access: Manager, store: StoreDep) -> Response:
    found = store.users.user(user)
    _check_owner_change(access, store.users.role(access.id, found.id), Role.VIEWER)
    store.users.remove_member(access.id, user)
    return Response(status_code=204)
