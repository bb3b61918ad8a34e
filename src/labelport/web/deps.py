"""What every page depends on: the session, the signed-in person and the project they open
with their role in it.

The role rules are the API's (`labelport.api.deps.project_access`, `require_role`,
`require_export`): a page calls them with the session's user instead of a token's, so a page
never allows what the API would refuse. A project the person is not a member of is a 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from labelport.api.deps import ProjectAccess, StoreDep, project_access, require_export
from labelport.errors import LabelportError
from labelport.store.users import User
from labelport.web.session import CSRF_FIELD, CSRF_HEADER, Session, check_csrf


class SignInRequired(LabelportError):
    """The page needs a signed-in person (answered by a redirect to the sign-in page)."""


def get_session(request: Request) -> Session:
    session: Session = request.state.session
    return session


SessionDep = Annotated[Session, Depends(get_session)]


def current_person(request: Request, session: SessionDep, store: StoreDep) -> User:
    user = (None if session.user_id is None
            else store.users.session_user(session.user_id, session.stamp))
    if user is None:
        raise SignInRequired("sign in to see this page")
    request.state.person = user
    return user


PersonDep = Annotated[User, Depends(current_person)]


def project_page(project: int, person: PersonDep, store: StoreDep) -> ProjectAccess:
    return project_access(project, person, store)


ProjectPage = Annotated[ProjectAccess, Depends(project_page)]


def may_export(access: ProjectAccess) -> bool:
    """Whether the person may export (the API's rule), to show or hide export controls."""
    try:
        require_export(access)
    except LabelportError:
        return False
    return True


async def csrf_protect(request: Request, session: SessionDep) -> None:
    """Refuse a request that changes something without the session's CSRF token. Outside the
    sign-in form, a visitor who is not signed in is refused before the body is read."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if session.user_id is None and request.url.path != "/login":
        raise SignInRequired("sign in to send this form")
    sent: object = request.headers.get(CSRF_HEADER)
    if sent is None:
        sent = (await request.form()).get(CSRF_FIELD)
    check_csrf(session, sent)
