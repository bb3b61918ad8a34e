"""What a request may cost (issue 13, point 3): the caller is authenticated before a byte of
the body is read; bodies and uploads over their limits are 413 (declared or not); archives are
bounded before and while they are unpacked; an encrypted zip is a 400 asking for no password
it cannot take; ids out of range are 422, never 500."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
import pyzipper

from labelport.api.app import create_app
from labelport.api.limits import RequestLimits
from labelport.api.settings import Settings
from labelport.archives import ArchiveLimits, unpack_zip
from labelport.domain.schema import LabelSchema
from labelport.errors import InputError
from labelport.store.users import Role
from tests.api.conftest import Api

_MIB = 1 << 20


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def _scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "root_path": "", "query_string": b"", "client": ("test", 1),
            "server": ("test", 80), "state": {},
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}


def _send_body(app: Any, path: str, headers: dict[str, str], chunks: int,
               chunk: bytes, head: bytes = b"") -> tuple[int, int]:
    """Call the ASGI app with a body of ``head`` and ``chunks`` pieces; the status and how many
    pieces the app pulled."""
    pulled = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < chunks:
            pulled += 1
            body = head + chunk if pulled == 1 else chunk
            return {"type": "http.request", "body": body, "more_body": pulled < chunks}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    asyncio.run(app(_scope("POST", path, headers), receive, send))
    return status, pulled


def test_anonymous_bodies_are_refused_before_they_are_read(tmp_path: Path) -> None:
    app = create_app(Settings(db=str(tmp_path / "s.db"), media_dir=tmp_path / "m"))
    store = app.state.store
    store.users.create_user("alice")
    token = store.users.create_token("alice")
    megabyte = b"x" * _MIB
    path = "/api/projects/1/items/upload"
    for headers in ({}, {"Authorization": "Token wrong"},
                    {"Authorization": "Token wrong", "Content-Length": str(200 * _MIB)}):
        assert _send_body(app, path, headers, 200, megabyte) == (401, 0)
    # known caller, declared too large: 413 before reading; undeclared: stops at the limit
    known = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    assert _send_body(app, "/api/projects", known | {"Content-Length": str(200 * _MIB)},
                      200, megabyte) == (413, 0)
    status, pulled = _send_body(app, "/api/projects", known, 200, megabyte)
    assert status == 413 and pulled == 17  # 16 MiB is the default limit of a JSON body
    store.close()


def test_an_upload_without_a_length_stops_at_its_limit(tmp_path: Path) -> None:
    app = create_app(Settings(db=str(tmp_path / "s.db"), media_dir=tmp_path / "m",
                              limits=RequestLimits(max_upload=3 * _MIB)))
    store = app.state.store
    store.users.create_user("alice")
    project = store.create_project("p", LabelSchema())
    store.users.set_member(project, "alice", Role.OWNER)
    headers = {"Authorization": f"Token {store.users.create_token('alice')}",
               "Content-Type": "multipart/form-data; boundary=xyz"}
    part = (b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n")
    status, pulled = _send_body(app, f"/api/projects/{project}/items/upload", headers, 200,
                                b"x" * _MIB, head=part)
    assert (status, pulled) == (413, 3)  # the third megabyte (with the part header) is over
    store.close()


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELPORT_MAX_BODY_MB", "0.5")
    monkeypatch.setenv("LABELPORT_MAX_UPLOAD_MB", "3")
    monkeypatch.setenv("LABELPORT_MAX_UNPACKED_MB", "10")
    monkeypatch.setenv("LABELPORT_MAX_ARCHIVE_FILES", "7")
    monkeypatch.setenv("LABELPORT_MAX_ARCHIVE_RATIO", "50")
    assert RequestLimits.from_env() == RequestLimits(
        max_body=_MIB // 2, max_upload=3 * _MIB,
        archive=ArchiveLimits(max_files=7, max_bytes=10 * _MIB, max_ratio=50))
    monkeypatch.setenv("LABELPORT_MAX_BODY_MB", "lots")
    with pytest.raises(InputError, match="request limits"):
        RequestLimits.from_env()


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELPORT_MAX_BODY_MB", "1")
    monkeypatch.setenv("LABELPORT_MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("LABELPORT_MAX_ARCHIVE_FILES", "20")


def _import(api: Api, name: str, content: bytes) -> Any:
    return api.call("alice", "POST", f"/api/projects/{api.project}/import",
                    data={"format": "yolo"}, files={"file": (name, content)})


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in entries.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


def test_requests_over_their_limits_are_413(small_limits: None, api: Api) -> None:
    big = api.call("alice", "POST", "/api/projects", json={"name": "x" * (2 * _MIB)})
    assert big.status_code == 413, big.text
    assert big.json()["error"]["code"] == "too_large"
    upload = _import(api, "big.zip", b"\0" * (3 * _MIB))
    assert upload.status_code == 413, upload.text
    assert "upload" in upload.json()["error"]["message"]


def test_archives_are_bounded_before_and_while_unpacking(small_limits: None, api: Api,
                                                         tmp_path: Path) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zipped, \
            zipped.open("labels/a.txt", "w") as entry:
        for _ in range(64):
            entry.write(b"\0" * _MIB)
    assert len(bomb.getvalue()) < _MIB // 4
    refused = _import(api, "bomb.zip", bomb.getvalue())
    assert refused.status_code == 400, refused.text
    assert "times its packed size" in refused.json()["error"]["message"]

    many = _import(api, "many.zip", _zip({f"labels/{n}.txt": b"" for n in range(21)}))
    assert many.status_code == 400 and "21 entries" in many.json()["error"]["message"]

    slip = _import(api, "slip.zip", _zip({"../evil.txt": b"x"}))
    assert slip.status_code == 400 and "outside the archive" in slip.json()["error"]["message"]

    encrypted = io.BytesIO()
    with pyzipper.AESZipFile(encrypted, "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as zipped:
        zipped.setpassword(b"secret")
        zipped.writestr("data.yaml", b"names: [a]\n")
    refused = _import(api, "secret.zip", encrypted.getvalue())
    assert refused.status_code == 400, refused.text
    assert "a password is needed" in refused.json()["error"]["message"]


def test_unpacking_counts_the_bytes_really_written(tmp_path: Path) -> None:
    """A header that understates an entry's size does not get more bytes through: the total is
    counted as it is written (and zipfile stops at the declared size, then fails its CRC)."""
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"a.txt": b"a" * (3 * _MIB), "b.txt": b"b" * (3 * _MIB)}))
    with pytest.raises(InputError, match="more than the 4 MiB"):
        unpack_zip(archive, tmp_path / "out", ArchiveLimits(max_bytes=4 * _MIB, max_ratio=1e9))
    forged = bytearray(archive.read_bytes())
    declared = (3 * _MIB).to_bytes(4, "little")
    forged[forged.rindex(declared) + 2] = 0x20  # the central directory now says 2 MiB for b
    archive.write_bytes(bytes(forged))
    with pytest.raises(InputError, match="not a readable zip"):
        unpack_zip(archive, tmp_path / "out2", ArchiveLimits(max_bytes=5 * _MIB, max_ratio=1e9))
    assert (tmp_path / "out2" / "b.txt").stat().st_size <= 2 * _MIB


def test_ids_out_of_range_are_422(api: Api) -> None:
    for path in ("/api/projects/99999999999999999999999", "/api/projects/-1",
                 "/api/projects/{p}/items/99999999999999999999999",
                 "/api/projects/{p}/items?dataset_id=99999999999999999999999",
                 "/api/projects/{p}/tasks/99999999999999999999999",
                 "/api/projects/{p}/annotations/99999999999999999999999",
                 "/api/projects/{p}/annotations?item=99999999999999999999999",
                 "/api/projects/{p}/exports/99999999999999999999999",
                 "/api/projects/{p}/datasets/99999999999999999999999"):
        response = api.call("alice", "GET", path.format(p=api.project))
        assert response.status_code == 422, (path, response.text)
