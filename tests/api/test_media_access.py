"""The attack of issue 13 through the API: a user owns a project, points items at the server's
files (``/proc/self/environ``, ``/etc/passwd``, the store's own SQLite file) or at a loopback
URL, directly or through an import of labelport-native JSON, exports with ``media: copy`` and
downloads. Each export fails naming the item, and nothing is downloadable; media under the
operator's roots and the project's own uploads are still copied."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from labelport.domain.model import (
    DEFAULT_LABELSET,
    Dataset,
    Item,
    ItemRecord,
    Labelset,
    ProjectInfo,
)
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import MemorySource
from labelport.export.run import run_export
from labelport.formats.registry import get_format
from tests.api.conftest import Api
from tests.media_server import serve_folder

SECRET = b"SECRET-OF-THE-SERVER"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture(autouse=True)
def job_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Local jobs; the operator allows the sample's images folder only."""
    monkeypatch.setenv("LABELPORT_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("LABELPORT_RUNNER", "local")
    monkeypatch.setenv("LABELPORT_TICK_SECONDS", "0.2")
    monkeypatch.setenv("LABELPORT_MEDIA_ROOTS", str(tmp_path / "sample-media"))


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[str]:
    """A web server on 127.0.0.1 holding a secret (a service of the server's own network)."""
    root = tmp_path / "internal"
    root.mkdir()
    (root / "index.html").write_bytes(SECRET)
    with serve_folder(root) as base:
        yield base + "/"


def _targets(api: Api, loopback: str) -> list[str]:
    db = api.media / "labelport.db"  # the store of the `sqlite_url` fixture
    assert db.is_file()
    return ["/proc/self/environ", "/etc/passwd", str(db), db.as_uri(), loopback,
            str(api.media / "sample-media" / ".." / "labelport.db")]


def _export(api: Api, user: str, project: int) -> dict[str, Any]:
    created = api.ok(user, "POST", f"/api/projects/{project}/exports", 202,
                     json={"format": "coco", "media": "copy"})
    return api.wait_export(user, project, created["id"])


def _refused(api: Api, user: str, project: int, key: str) -> None:
    job = _export(api, user, project)
    assert job["status"] == "failed", job
    assert f"media of {key}" in job["error"], job["error"]
    assert "media root" in job["error"] or "media URL prefix" in job["error"], job["error"]
    download = api.call(user, "GET", f"/api/projects/{project}/exports/{job['id']}/download")
    assert download.status_code == 409
    assert SECRET not in download.content


def _no_secret_in_artifacts(api: Api) -> None:
    for path in (api.media / "artifacts").rglob("*"):
        if path.is_file():
            assert b"root:" not in path.read_bytes() and SECRET not in path.read_bytes()


def test_items_naming_server_files_or_urls_are_never_exported(api: Api, loopback: str) -> None:
    api.add_user("mallory")
    project = api.ok("mallory", "POST", "/api/projects", 201, json={"name": "mine"})["id"]
    for n, target in enumerate(_targets(api, loopback)):
        path = f"t{n}.png"
        created = api.ok("mallory", "POST", f"/api/projects/{project}/items", 201, json=[
            {"dataset": "d", "path": path, "width": 4, "height": 3, "media_uri": target}])
        _refused(api, "mallory", project, f"d/{path}")
        api.ok("mallory", "DELETE", f"/api/projects/{project}/items/{created['ids'][0]}", 204)
    _no_secret_in_artifacts(api)


def test_an_import_naming_server_files_is_never_exported(api: Api, loopback: str,
                                                         tmp_path: Path) -> None:
    api.add_user("mallory")
    project = api.ok("mallory", "POST", "/api/projects", 201, json={"name": "mine"})["id"]
    for n, target in enumerate(_targets(api, loopback)):
        item = Item(dataset="imported", path=f"i{n}.png", width=4, height=3, media_uri=target)
        source = MemorySource(project=ProjectInfo(name="x"),
                              schema=LabelSchema(classes=(LabelClass(id=1, name="car"),)),
                              items=(ItemRecord(item=item),),
                              datasets=(Dataset(name="imported"),),
                              labelsets=(Labelset(name=DEFAULT_LABELSET),))
        folder = run_export(source, get_format("labelport"), tmp_path / f"native-{n}").path
        document = next(p for p in folder.glob("*.json") if p.name != "labelport-export.json")
        api.ok("mallory", "POST", f"/api/projects/{project}/import", 201,
               data={"format": "labelport"},
               files={"file": (document.name, document.read_bytes())})
        _refused(api, "mallory", project, f"imported/i{n}.png")
        found = api.ok("mallory", "GET", f"/api/projects/{project}/items")["results"]
        for row in found:
            api.ok("mallory", "DELETE", f"/api/projects/{project}/items/{row['id']}", 204)
    _no_secret_in_artifacts(api)


def test_media_under_the_roots_and_own_uploads_are_copied(api: Api) -> None:
    done = _export(api, "alice", api.project)
    assert done["status"] == "completed", done["error"]
    content = api.call("alice", "GET", f"/api/projects/{api.project}/exports/{done['id']}"
                                       "/download").content
    with zipfile.ZipFile(io.BytesIO(content)) as zipped:
        images = [n for n in zipped.namelist() if n.endswith((".png", ".jpg"))]
        counts = orjson.loads(zipped.read("labelport-export.json"))["counts"]
    assert len(images) == counts["items"] > 0

    api.add_user("mallory")
    own = api.ok("mallory", "POST", "/api/projects", 201, json={"name": "mine"})["id"]
    picture = io.BytesIO()
    Image.new("RGB", (5, 4)).save(picture, "PNG")
    api.ok("mallory", "POST", f"/api/projects/{own}/items/upload", 201,
           files=[("files", ("up.png", picture.getvalue(), "image/png"))])
    done = _export(api, "mallory", own)
    assert done["status"] == "completed", done["error"]
    uploaded = api.ok("mallory", "GET", f"/api/projects/{own}/items")["results"][0]

    # another project naming that upload's path is refused: uploads belong to their project
    other = api.ok("alice", "POST", "/api/projects", 201, json={"name": "other"})["id"]
    api.ok("alice", "POST", f"/api/projects/{other}/items", 201, json=[
        {"dataset": "d", "path": "up.png", "width": 5, "height": 4,
         "media_uri": uploaded["media_uri"]}])
    _refused(api, "alice", other, "d/up.png")


def test_an_import_reads_its_upload_and_no_file_it_names(api: Api, tmp_path: Path) -> None:
    """A CVAT XML naming an image of the server by absolute path: without a size the import is
    refused (the file is not opened); with one, the item does not learn where the file is."""
    secret = tmp_path / "server-image.png"
    Image.new("RGB", (7, 5)).save(secret)
    base = f"/api/projects/{api.project}"

    def upload(attributes: str) -> Any:
        xml = (f'<annotations><version>1.1</version><image id="0" name="{secret}" {attributes}/>'
               "</annotations>")
        return api.call("alice", "POST", f"{base}/import", data={"format": "cvat",
                                                                 "dataset": "cvat"},
                        files={"file": ("annotations.xml", xml.encode())})

    refused = upload("")
    assert refused.status_code == 400, refused.text
    assert "no image size" in refused.json()["error"]["message"]
    assert upload('width="3" height="2"').status_code == 201
    items = api.ok("alice", "GET", f"{base}/items", params={"page_size": 100})["results"]
    imported = [i for i in items if i["dataset"] == "cvat"]
    assert [(i["width"], i["height"], i["media_uri"]) for i in imported] == [(3, 2, None)]


def test_an_import_reads_no_label_file_the_upload_names_elsewhere(api: Api,
                                                                  tmp_path: Path) -> None:
    """A Darknet list naming an image of the server by absolute path would take that image's
    label file beside it: the import is refused and nothing of that file is read."""
    secret = tmp_path / "server" / "secret.png"
    secret.parent.mkdir()
    Image.new("RGB", (8, 6)).save(secret)
    secret.with_suffix(".txt").write_text("0 0.5 0.5 0.25 0.25\n")
    upload = io.BytesIO()
    with zipfile.ZipFile(upload, "w") as zipped:
        zipped.writestr("obj.data", "classes = 1\ntrain = train.txt\nnames = obj.names\n")
        zipped.writestr("obj.names", "car\n")
        zipped.writestr("train.txt", f"{secret}\n")
    base = f"/api/projects/{api.project}"
    before = api.ok("alice", "GET", f"{base}/annotations")["count"]
    refused = api.call("alice", "POST", f"{base}/import", data={"format": "yolo_darknet"},
                       files={"file": ("darknet.zip", upload.getvalue())})
    assert refused.status_code == 400, refused.text
    assert api.ok("alice", "GET", f"{base}/annotations")["count"] == before
