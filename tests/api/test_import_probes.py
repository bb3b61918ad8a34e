"""An import on the server cannot ask which server files exist: an image a Label Studio task,
a VOC ``<filename>``, a Parquet ``file_name``, a Segments sample, a DataGym task, a COCO panoptic
PNG or a YOLO ``data.yaml`` image list names by ``../`` outside the
upload is never looked at, so the answer is the same whether that file exists or not, and no
item learns its size or its path."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from tests.api.conftest import Api


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def _zip(files: dict[str, str]) -> bytes:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return packed.getvalue()


def _labelstudio(reference: str) -> tuple[str, bytes]:
    task = {"id": 1, "data": {"image": reference}, "annotations": []}
    return "tasks.json", orjson.dumps([task])


def _voc(reference: str) -> tuple[str, bytes]:
    xml = (f"<annotation><folder>x</folder><filename>{reference}</filename>"
           "<size><width>3</width><height>2</height><depth>3</depth></size></annotation>")
    return "voc.zip", _zip({"Annotations/a.xml": xml, "JPEGImages/.keep": ""})


def _parquet(reference: str) -> tuple[str, bytes]:
    line = orjson.dumps({"file_name": reference, "path": "a.png"}).decode()
    return "imagefolder.zip", _zip({"train/metadata.jsonl": line + "\n"})


def _segments(reference: str) -> tuple[str, bytes]:
    release = {"name": "r", "dataset": {
        "name": "d", "task_type": "vector",
        "task_attributes": {"format_version": "0.1", "categories": []},
        "samples": [{"name": reference, "attributes": {"image": {"url": reference}},
                     "labels": {}}]}}
    return "release.json", orjson.dumps(release)


def _datagym(reference: str) -> tuple[str, bytes]:
    tasks = [{"internal_image_ID": "a.png", "external_image_ID": reference}]
    return "datagym.zip", _zip({"datagym.json": orjson.dumps({"label_classes": [],
                                                              "tasks": tasks}).decode(),
                                "images/.keep": ""})


def _coco_panoptic(reference: str) -> tuple[str, bytes]:
    panoptic = {"images": [{"id": 1, "file_name": "a.png", "width": 3, "height": 2}],
                "annotations": [{"image_id": 1, "file_name": reference, "segments_info": []}],
                "categories": []}
    return "panoptic.zip", _zip({"annotations/panoptic_train.json": orjson.dumps(
        panoptic).decode(), "annotations/panoptic_train/.keep": ""})


def _yolo_ultralytics(reference: str) -> tuple[str, bytes]:
    data = f"names: {{0: car}}\ntrain: {reference.removesuffix('.png')}.txt\n"
    return "yolo.zip", _zip({"data.yaml": data})


UPLOADS: dict[str, Callable[[str], tuple[str, bytes]]] = {
    "labelstudio": _labelstudio, "voc": _voc, "parquet": _parquet, "segments": _segments,
    "datagym": _datagym, "coco_panoptic": _coco_panoptic, "yolo": _yolo_ultralytics}


def _import(api: Api, project: int, format_name: str, reference: str) -> tuple[int, Any]:
    name, body = UPLOADS[format_name](reference)
    response = api.call("alice", "POST", f"/api/projects/{project}/import",
                        data={"format": format_name}, files={"file": (name, body)})
    return response.status_code, response.json()


@pytest.mark.parametrize("format_name", sorted(UPLOADS))
def test_an_import_does_not_reveal_whether_a_server_file_exists(api: Api, tmp_path: Path,
                                                                 format_name: str) -> None:
    secret = tmp_path / "server" / "secret.png"
    secret.parent.mkdir()
    Image.new("RGB", (7, 5)).save(secret)
    secret.with_suffix(".txt").write_text(f"{secret}\n")  # an image list (YOLO's data.yaml)
    climb = "../" * 40  # from the import's temporary folder up to / and down to the file
    answers = []
    for target in (secret, secret.with_name("missing.png")):
        project = api.ok("alice", "POST", "/api/projects", 201,
                         json={"name": f"{format_name}-{target.stem}"})["id"]
        status, body = _import(api, project, format_name, climb + str(target).lstrip("/"))
        if status == 201:
            items = api.ok("alice", "GET", f"/api/projects/{project}/items")["results"]
            assert all(i["media_uri"] is None and (i["width"], i["height"]) != (7, 5)
                       for i in items), items
            body = [(i["path"], i["width"], i["height"]) for i in items]
        answers.append((status, re.sub(r"labelport-import-\w+", "TMP",
                                      str(body).replace(target.stem, "NAME"))))
    assert answers[0] == answers[1]
