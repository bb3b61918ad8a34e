"""The Import tab: upload a labels file (or a zip of a folder layout) in a readable format;
the API's own import route reads it, all or nothing, so the page shows the counts or the
error naming the file and the place. The upload is bounded by the service's request limits
(`labelport.api.limits`) and streamed to a temporary file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from labelport.api.deps import ProjectAccess, SettingsDep, StoreDep, require_role
from labelport.api.routers import imports as api_imports
from labelport.api.schemas import ImportPublic
from labelport.errors import LabelportError
from labelport.formats.registry import all_formats
from labelport.store.users import Role
from labelport.web.deps import ProjectPage, may_export
from labelport.web.templating import render

router = APIRouter()


def _page(request: Request, access: ProjectAccess, *, status: int = 200,
          result: ImportPublic | None = None, error: str | None = None) -> Response:
    return render(request, "import.html", status=status, access=access, tab="import",
                  may_export=may_export(access), result=result, error=error,
                  formats=[f for f in all_formats() if f.reader is not None])


@router.get("/projects/{project}/import")
def import_page(request: Request, access: ProjectPage) -> Response:
    require_role(Role.MANAGER)(access)
    return _page(request, access)


@router.post("/projects/{project}/import")
def import_labels(request: Request, access: ProjectPage, store: StoreDep,
                  settings: SettingsDep, format: Annotated[str, Form()],
                  file: Annotated[UploadFile, File()],
                  dataset: Annotated[str, Form()] = "",
                  options: Annotated[str, Form()] = "") -> Response:
    """Import the upload (managers, as in the API); the counts, or the error in words."""
    require_role(Role.MANAGER)(access)
    try:
        result = api_imports.import_file(access, store, settings, format, file,
                                         dataset.strip() or None, options.strip() or None)
    except LabelportError as exc:
        return _page(request, access, status=400, error=str(exc))
    return _page(request, access, status=201, result=result)
