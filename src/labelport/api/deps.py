"""FastAPI dependencies every router uses: the store, the settings, the calling user, and the
project they address with the role they need there.

A project the user is not a member of answers 404 like a project that does not exist, so
existence does not leak; an admin is treated as an owner of every project. A member whose
role is too low gets 403."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader

from labelport.api.auth import authenticate
from labelport.api.errors import PermissionDeniedError
from labelport.api.limits import USER_STATE
from labelport.api.schemas import Id
from labelport.api.settings import Settings
from labelport.errors import NotFoundError
from labelport.store import Store
from labelport.store.project_settings import ProjectDetail
from labelport.store.users import Role, User

_authorization = APIKeyHeader(
    name="Authorization", auto_error=False, scheme_name="Token",
    description="`Token <token>` or `Bearer <token>`; `labelport token create NAME` makes one.")


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def current_user(request: Request, store: StoreDep,
                 authorization: Annotated[str | None, Security(_authorization)] = None) -> User:
    known: User | None = getattr(request.state, USER_STATE, None)  # `RequestGuard` did it
    return known if known is not None else authenticate(store, authorization)


UserDep = Annotated[User, Depends(current_user)]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectAccess:
    """The project a request addresses, who asks, and their role in it."""

    project: ProjectDetail
    user: User
    role: Role

    @property
    def id(self) -> int:
        return self.project.id

    @property
    def name(self) -> str:
        return self.project.name


def project_access(project: Annotated[Id, Path(description="The project's id.")],
                   user: UserDep, store: StoreDep) -> ProjectAccess:
    try:
        detail = store.project_settings.get(project)
    except NotFoundError:
        detail = None
    role = None if detail is None else store.users.role(project, user.id)
    if role is None and user.is_admin:
        role = Role.OWNER
    if detail is None or role is None:
        raise NotFoundError(f"no project with id {project}")
    return ProjectAccess(project=detail, user=user, role=role)


def require_role(needed: Role) -> Callable[[ProjectAccess], ProjectAccess]:
    """A dependency giving the project access when the user's role is ``needed`` or above."""

    def dependency(access: Annotated[ProjectAccess, Depends(project_access)]) -> ProjectAccess:
        if not access.role.allows(needed):
            raise PermissionDeniedError(
                f"this needs the {needed.value} role or above in project {access.name!r}; "
                f"you are {access.role.value}")
        return access

    return dependency


def require_export(access: Annotated[ProjectAccess, Depends(project_access)]) -> ProjectAccess:
    """Exporting needs the project's ``export_role`` (manager unless the project allows more)."""
    return require_role(access.project.export_role)(access)


Viewer = Annotated[ProjectAccess, Depends(require_role(Role.VIEWER))]
Annotator = Annotated[ProjectAccess, Depends(require_role(Role.ANNOTATOR))]
Manager = Annotated[ProjectAccess, Depends(require_role(Role.MANAGER))]
Owner = Annotated[ProjectAccess, Depends(require_role(Role.OWNER))]
Exporter = Annotated[ProjectAccess, Depends(require_export)]
