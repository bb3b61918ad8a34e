"""Who may change which task and which annotation: the rules below the role a route needs,
in one place for the API's routes and the web app's pages.

Roles rank viewer < annotator < reviewer < manager < owner (`labelport.store.users.Role`); a
route asks for a role with `labelport.api.deps.require_role`, and these functions then look at
the task or annotation itself:

- an **annotator** changes only tasks assigned to them, and only their own annotations (the
  ones whose ``annotator`` is their name); they create annotations in their own name only;
- setting a task ``reviewed`` or ``rejected``, or changing a task that is ``reviewed``, needs a
  **reviewer** (or a manager or owner); reviewers change any task's status and answers and any
  annotation;
- choosing a task's assignee or reviewer needs a **manager** (or an owner).

Each ``check_*`` raises `PermissionDeniedError` (403) saying what the role would need; each
``may_*`` answers the same question as a boolean, for pages that show or hide a control."""

from __future__ import annotations

from labelport.api.deps import ProjectAccess
from labelport.api.errors import PermissionDeniedError
from labelport.domain.model import Annotation, Task, TaskStatus
from labelport.store.users import Role

REVIEW_STATUSES = frozenset({TaskStatus.REVIEWED, TaskStatus.REJECTED})
"""The statuses only reviewers (and managers, owners) set."""


def check_task_change(access: ProjectAccess, task: Task, *, status: TaskStatus | None = None,
                      assigns: bool = False) -> None:
    """Refuse a change of ``task`` by ``access``'s user: to ``status`` (None: unchanged), its
    answers, and (``assigns``) its assignee or reviewer."""
    if assigns and not access.role.allows(Role.MANAGER):
        _deny(access, "choosing a task's assignee or reviewer needs the manager role")
    if access.role.allows(Role.REVIEWER):
        return
    if status in REVIEW_STATUSES:
        _deny(access, f"setting a task {status.value} needs the reviewer role")
    if task.status is TaskStatus.REVIEWED:
        _deny(access, "this task is reviewed; changing it needs the reviewer role")
    if task.assignee != access.user.name:
        _deny(access, "an annotator changes only the tasks assigned to them; this one is "
                      + (f"assigned to {task.assignee!r}" if task.assignee else "unassigned"))


def check_annotation_change(access: ProjectAccess, annotation: Annotation) -> None:
    """Refuse a change or removal of ``annotation`` by an annotator who did not make it."""
    if access.role.allows(Role.REVIEWER) or annotation.annotator == access.user.name:
        return
    _deny(access, "an annotator changes only their own annotations; this one is "
                  + (f"{annotation.annotator!r}'s" if annotation.annotator else "nobody's"))


def check_annotation_author(access: ProjectAccess, annotator: str | None) -> None:
    """Refuse an annotator creating an annotation in someone else's name."""
    if access.role.allows(Role.REVIEWER) or annotator in (None, access.user.name):
        return
    _deny(access, f"an annotator creates annotations in their own name, not {annotator!r}")


def may_change_task(access: ProjectAccess, task: Task, *, status: TaskStatus | None = None,
                    assigns: bool = False) -> bool:
    try:
        check_task_change(access, task, status=status, assigns=assigns)
    except PermissionDeniedError:
        return False
    return True


def may_change_annotation(access: ProjectAccess, annotation: Annotation) -> bool:
    try:
        check_annotation_change(access, annotation)
    except PermissionDeniedError:
        return False
    return True


def _deny(access: ProjectAccess, why: str) -> None:
    raise PermissionDeniedError(f"{why} (you are {access.role.value} in project "
                                f"{access.name!r})")
