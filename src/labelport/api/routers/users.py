"""The calling user."""

from __future__ import annotations

from fastapi import APIRouter

from labelport.api.deps import UserDep
from labelport.api.schemas import UserPublic

router = APIRouter(tags=["users"])


@router.get("/users/me", response_model=UserPublic)
def me(user: UserDep) -> UserPublic:
    return UserPublic(id=user.id, name=user.name, is_admin=user.is_admin)
