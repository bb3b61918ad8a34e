"""Per-annotator quality metrics, as SATIn exports them: for each person, the objects they
made, their mean lead time, and the share of the tasks assigned to them that were reviewed
and that were rejected. Counted by the database (grouped queries), so a large project costs
three queries, not a pass over its records.

An object counts for its ``annotator``; a task for its ``assignee``. Objects made by a model
are counted too (their annotator is the model's name), so a model's output can be compared.
CSV and JSON come from `to_csv` and `to_json` (the web page, the API and the CLI use them)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from labelport.domain.model import TaskStatus
from labelport.store import tables as t
from labelport.store.projects import find_project


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnotatorQuality:
    annotator: str
    objects: int
    mean_lead_time_s: float | None
    """Mean of the objects' lead times; None when none was recorded."""
    tasks: int
    reviewed: int
    rejected: int

    @property
    def reviewed_share(self) -> float | None:
        return self.reviewed / self.tasks if self.tasks else None

    @property
    def rejected_share(self) -> float | None:
        return self.rejected / self.tasks if self.tasks else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "reviewed_share": self.reviewed_share,
                "rejected_share": self.rejected_share}


COLUMNS = ("annotator", "objects", "mean_lead_time_s", "tasks", "reviewed", "rejected",
           "reviewed_share", "rejected_share")


def annotator_quality(engine: Engine, project: int | str) -> list[AnnotatorQuality]:
    """The metrics of everyone who made an object or was assigned a task in ``project`` (its
    id, or its name), by name."""
    a, i, ts = t.annotations.c, t.items.c, t.tasks.c
    with engine.connect() as conn:
        project_id = project if isinstance(project, int) else find_project(conn, project).id
        made = {name: (count, mean) for name, count, mean in conn.execute(
            select(a.annotator, func.count(), func.avg(a.lead_time_s))
            .join(t.items, i.id == a.item_id)
            .where(i.project_id == project_id, a.annotator.is_not(None))
            .group_by(a.annotator))}
        tasks: dict[str, dict[str, int]] = {}
        for name, status, count in conn.execute(
                select(ts.assignee, ts.status, func.count())
                .join(t.items, i.id == ts.item_id)
                .where(i.project_id == project_id, ts.assignee.is_not(None))
                .group_by(ts.assignee, ts.status)):
            tasks.setdefault(name, {})[status] = count
    rows = []
    for name in sorted(set(made) | set(tasks)):
        objects, mean = made.get(name, (0, None))
        statuses = tasks.get(name, {})
        rows.append(AnnotatorQuality(
            annotator=name, objects=objects,
            mean_lead_time_s=None if mean is None else float(mean),
            tasks=sum(statuses.values()), reviewed=statuses.get(TaskStatus.REVIEWED.value, 0),
            rejected=statuses.get(TaskStatus.REJECTED.value, 0)))
    return rows


def to_json(rows: list[AnnotatorQuality]) -> list[dict[str, Any]]:
    return [row.to_json() for row in rows]


def to_csv(rows: list[AnnotatorQuality]) -> str:
    """One line per annotator under a header (`COLUMNS`); empty cells for unknown values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = row.to_json()
        writer.writerow(["" if values[c] is None else values[c] for c in COLUMNS])
    return out.getvalue()
