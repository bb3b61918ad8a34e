"""Per-annotator quality metrics of a project (`labelport.store.quality`), as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from labelport.api.deps import StoreDep, Viewer
from labelport.store.quality import annotator_quality, to_csv, to_json

router = APIRouter(tags=["quality"])


@router.get("/projects/{project}/quality", response_model=list[dict[str, Any]],
            responses={200: {"content": {"text/csv": {}}}})
def quality(access: Viewer, store: StoreDep,
            format: Annotated[Literal["json", "csv"], Query(
                description="json (default) or csv")] = "json") -> Any:
    """Per annotator: objects made, mean lead time, tasks assigned, and the shares of those
    reviewed and rejected."""
    rows = annotator_quality(store.engine, access.id)
    if format == "csv":
        return Response(to_csv(rows), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="quality.csv"'})
    return to_json(rows)
