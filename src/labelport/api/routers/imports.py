"""Import labels into a project from an uploaded file, all or nothing. A folder layout (YOLO,
VOC, ...) is uploaded as a zip archive, unpacked into a temporary folder first."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, File, Form, UploadFile

from labelport.api.deps import Manager, SettingsDep, StoreDep
from labelport.api.schemas import ImportPublic
from labelport.archives import unpack_zip
from labelport.errors import InputError
from labelport.export.media_access import reads_confined_to
from labelport.export.request import convert_options
from labelport.formats.registry import get_format

router = APIRouter(tags=["import"])


def _uploaded_file(folder: Path, option: str, name: str) -> str:
    """A file option (a mask reader's class list) names a file of the upload, relative to its
    folder: never a file of the server."""
    if "\0" in name:
        raise InputError(f"option {option}: expected the name of a file in the upload")
    target = (folder / name).resolve()
    if Path(name).is_absolute() or not target.is_relative_to(folder.resolve()):
        raise InputError(f"option {option}={name!r}: name a file inside the uploaded archive, "
                         "relative to its top folder")
    return str(target)


@router.post("/projects/{project}/import", response_model=ImportPublic, status_code=201)
def import_file(
    access: Manager, store: StoreDep, settings: SettingsDep,
    format: Annotated[str, Form(description="A readable format's name (GET /api/formats).")],
    file: Annotated[UploadFile, File(description="The labels file, or a zip of a folder "
                                                 "layout.")],
    dataset: Annotated[str | None, Form(description="Put every item into this dataset.")] =
    None,
    options: Annotated[str | None, Form(description="The format's options as a JSON "
                                                    "object.")] = None,
) -> ImportPublic:
    spec = get_format(format)
    if spec.reader is None:
        raise InputError(f"format {format!r} can be written but not read")
    try:
        given = orjson.loads(options) if options else {}
    except orjson.JSONDecodeError as exc:
        raise InputError(f"options: not valid JSON ({exc})") from None
    if not isinstance(given, dict):
        raise InputError("options: expected a JSON object")
    reader_options = convert_options(spec, given) | {"images": None}
    with tempfile.TemporaryDirectory(prefix="labelport-import-") as tmp:
        name = Path(file.filename or "upload").name or "upload"
        uploaded = Path(tmp) / name
        with uploaded.open("wb") as out:
            while chunk := file.file.read(1 << 20):
                out.write(chunk)
        path = uploaded
        if zipfile.is_zipfile(uploaded) and uploaded.suffix.lower() == ".zip":
            path = Path(tmp) / "unpacked"
            unpack_zip(uploaded, path, settings.limits.archive)
        for option in spec.options:
            if option.file and reader_options.get(option.name):
                reader_options[option.name] = _uploaded_file(
                    path if path.is_dir() else path.parent, option.name,
                    reader_options[option.name])
        with reads_confined_to(Path(tmp)):  # never a file the upload names elsewhere
            source = spec.reader(path, reader_options)
            summary = store.import_source(access.name, source, dataset=dataset)
    return ImportPublic(items=summary.items, tasks=summary.tasks,
                        annotations=summary.annotations,
                        classes_added=list(summary.classes_added),
                        datasets_added=list(summary.datasets_added),
                        labelsets_added=list(summary.labelsets_added))
