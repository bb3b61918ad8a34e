"""Tasks: the labeling work on one item in one labelset (status, assignee, reviewer, answers).
Annotators update the tasks assigned to them, reviewers review, managers assign
(`labelport.api.permissions`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from labelport.api.deps import Annotator, StoreDep, Viewer
from labelport.api.pagination import Page, PageParams, page_params, paginate
from labelport.api.permissions import check_task_change
from labelport.api.schemas import Id, TaskPublic, TaskUpdate
from labelport.domain.codec import classification_from_json, classification_to_json
from labelport.domain.model import TaskStatus
from labelport.store.items import StoredTask

router = APIRouter(tags=["tasks"])


def _public(found: StoredTask) -> TaskPublic:
    task = found.task
    return TaskPublic(id=found.id, item=found.item_id, labelset=task.labelset,
                      status=task.status, assignee=task.assignee, reviewer=task.reviewer,
                      classifications=[classification_to_json(c)
                                       for c in task.classifications],
                      created_at=task.created_at, updated_at=task.updated_at)


@router.get("/projects/{project}/tasks", response_model=Page[TaskPublic])
def list_tasks(request: Request, access: Viewer, store: StoreDep,
               paging: Annotated[PageParams, Depends(page_params)],
               item: Id | None = None, labelset: str | None = None,
               status: TaskStatus | None = None) -> Page[TaskPublic]:
    found = store.items.tasks(access.id, item_id=item, labelset=labelset, status=status,
                              offset=paging.offset, limit=paging.page_size)
    return paginate(request, paging, found.count, [_public(t) for t in found.rows])


@router.get("/projects/{project}/tasks/{task_id}", response_model=TaskPublic)
def get_task(task_id: Id, access: Viewer, store: StoreDep) -> TaskPublic:
    return _public(store.items.task(access.id, task_id))


@router.patch("/projects/{project}/tasks/{task_id}", response_model=TaskPublic)
def update_task(task_id: Id, body: TaskUpdate, access: Annotator, store: StoreDep
                ) -> TaskPublic:
    """Change the status, assignee, reviewer (an empty string clears them) or the answers."""
    check_task_change(access, store.items.task(access.id, task_id).task, status=body.status,
                      assigns=body.assignee is not None or body.reviewer is not None)
    answers = None if body.classifications is None else tuple(
        classification_from_json(c) for c in body.classifications)
    return _public(store.items.update_task(
        access.id, task_id, status=body.status, assignee=body.assignee,
        reviewer=body.reviewer, classifications=answers))
