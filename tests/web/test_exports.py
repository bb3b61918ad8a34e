"""The Exports tab: the dialog with every option, the preview (what VOC would lose of rotated
boxes), Run export with a selection, split and password, progress to completed, download read
by pycocotools, the export page and Verify; roles, CSRF and other projects' exports."""

from __future__ import annotations

import io
import json
import re
import time

import pytest
import pyzipper
from pycocotools.coco import COCO

from labelport.domain.schema import LabelSchema
from labelport.store.jobs import JobInfo
from tests.web.conftest import Person, Web


def _ids(web: Web, n: int) -> list[int]:
    return [r.item.id for r in web.store.source("sample").records()  # type: ignore[misc]
            ][:n]


def _wait(web: Web, job_id: int) -> JobInfo:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = web.store.jobs.get(job_id)
        if job.status.finished:
            return job
        time.sleep(0.1)
    raise AssertionError(f"export {job_id} did not finish")


def _run(alice: Person, web: Web, form: dict[str, object]) -> JobInfo:
    alice.post(f"/projects/{web.project}/exports", form)
    [latest] = web.store.jobs.history(web.project, limit=1)
    return _wait(web, latest.id)


def test_dialog_offers_every_format_and_the_selection(web: Web) -> None:
    alice = web.sign_in("alice")
    ids = _ids(web, 3)
    page = alice.get(f"/projects/{web.project}/exports/new",
                     params=[("ids", str(i)) for i in ids]).text
    for name in ("coco", "voc", "yolo", "labelstudio", "labelport"):
        assert f'value="{name}"' in page
    assert f'name="ids" value="{" ".join(map(str, ids))}"' in page
    # a format that writes only videos does not fit a project without videos: greyed out
    assert re.search(r'value="mot"[^>]* disabled title="writes videos only', page)
    for field in ("split_strategy", "group_by", "drop_class", "map", "check", "media", "paths",
                  "package", "password", "since_release", "min_score", "only_annotated",
                  "frames", "frame_step", "split_by_frame"):
        assert f'name="{field}"' in page, field


def test_preview_names_what_voc_loses(web: Web) -> None:
    alice = web.sign_in("alice")
    shown = alice.post(f"/projects/{web.project}/exports/preview",
                       {"format": "voc", "split": "train=0.5,val=0.5"}, status=200).text
    assert "converted: rotated_box to its bounding box: 1" in shown
    assert "train" in shown and "val" in shown
    bad = alice.post(f"/projects/{web.project}/exports/preview",
                     {"format": "voc", "split": "train=abc"}, status=400).text
    assert 'class="error"' in bad


def test_export_selected_as_password_zip_loads_in_pycocotools(web: Web) -> None:
    alice = web.sign_in("alice")
    ids = _ids(web, 3)
    job = _run(alice, web, {"format": "coco", "ids": " ".join(map(str, ids)),
                            "split": "train=0.67,val=0.33", "package": "zip",
                            "password": "s3cret-zip", "name": "three"})
    assert job.status.value == "completed", job.error
    rows = alice.get(f"/projects/{web.project}/exports/rows").text
    assert f'data-export="{job.id}" data-status="completed"' in rows and "Download" in rows
    assert "s3cret-zip" not in alice.get(f"/projects/{web.project}/exports/{job.id}").text
    archive = alice.get(f"/projects/{web.project}/exports/{job.id}/download").content
    with pyzipper.AESZipFile(io.BytesIO(archive)) as zipped:
        zipped.setpassword(b"s3cret-zip")
        names = [n for n in zipped.namelist() if n.endswith(".json") and "annotations" in n]
        images = 0
        for name in names:
            coco = COCO()
            coco.dataset = json.loads(zipped.read(name))
            coco.createIndex()
            images += len(coco.getImgIds())
    assert images == 3
    page = f"/projects/{web.project}/exports/{job.id}"
    assert "type its password" in alice.post(f"{page}/verify", status=400).text
    assert "wrong password" in alice.post(f"{page}/verify", {"password": "nope"},
                                          status=400).text
    verified = alice.post(f"{page}/verify", {"password": "s3cret-zip"}, status=200).text
    assert verified.count('class="pair') == 3
    refused = alice.post(f"{page}/rerun", status=400).text
    assert "does not keep passwords" in refused and 'id="rerun"' in refused
    assert "wrong password" in alice.post(f"{page}/rerun", {"password": "nope"},
                                          status=400).text
    alice.post(f"{page}/rerun", {"password": "s3cret-zip"})
    [again] = web.store.jobs.history(web.project, limit=1)
    again = _wait(web, again.id)
    assert again.id != job.id and again.status.value == "completed", again.error
    assert again.request == job.request  # the same options; the password is not kept
    rerun = alice.get(f"/projects/{web.project}/exports/{again.id}/download").content
    with pyzipper.AESZipFile(io.BytesIO(rerun)) as zipped:
        assert all(info.flag_bits & 0x1 for info in zipped.infolist() if not info.is_dir())
        zipped.setpassword(b"s3cret-zip")
        assert zipped.testzip() is None
    web.store.jobs.forget_artifact(again.id)  # expired: the job recorded that it was encrypted
    expired = f"/projects/{web.project}/exports/{again.id}/rerun"
    assert "type a password for the new zip" in alice.post(expired, status=400).text
    alice.post(expired, {"password": "new-s3cret"})
    [third] = web.store.jobs.history(web.project, limit=1)
    third = _wait(web, third.id)
    assert third.id != again.id and third.counts and third.counts["encrypted"] is True
    with pyzipper.AESZipFile(io.BytesIO(alice.get(
            f"/projects/{web.project}/exports/{third.id}/download").content)) as zipped:
        zipped.setpassword(b"new-s3cret")
        assert zipped.testzip() is None


def test_export_page_and_verify(web: Web) -> None:
    alice = web.sign_in("alice")
    job = _run(alice, web, {"format": "coco", "package": "zip"})
    job = _run(alice, web, {"format": "coco", "package": "zip", "split": "train=0.5,val=0.5"})
    page = alice.get(f"/projects/{web.project}/exports/{job.id}").text
    assert "Objects per class" in page and "Verify" in page and "SHA-256" in page
    assert "Objects per class and split" in page and "Checksums of" in page
    assert "degenerate: fix" in page and "labelset: ground-truth" in page
    verified = alice.post(f"/projects/{web.project}/exports/{job.id}/verify", status=200).text
    assert 'id="verified"' in verified
    assert verified.count('class="pair') >= 1 and "read back" in verified


def test_form_errors_are_shown_next_to_the_field(web: Web) -> None:
    alice = web.sign_in("alice")
    page = alice.post(f"/projects/{web.project}/exports",
                      {"format": "coco", "package": "zip", "media": "link"}, status=400).text
    assert 'class="error"' in page and "Traceback" not in page


def test_viewer_and_strangers_cannot_export(web: Web) -> None:
    vera = web.sign_in("vera")
    assert "New export" not in vera.get(f"/projects/{web.project}").text
    items = vera.get(f"/projects/{web.project}/items").text
    assert "Export selected" not in items and 'name="ids"' not in items
    vera.get(f"/projects/{web.project}/exports/new", status=403)
    vera.post(f"/projects/{web.project}/exports", {"format": "coco"}, status=403)
    assert web.store.jobs.count(web.project) == 0
    alice = web.sign_in("alice")
    job = _run(alice, web, {"format": "yolo", "package": "zip"})
    bob = web.sign_in("bob")
    own = web.store.project_settings.create("bobs", LabelSchema(), description="",
                                            owner_id=web.store.users.user("bob").id)
    for project in (web.project, own.id):
        bob.get(f"/projects/{project}/exports/{job.id}", status=404)
        bob.get(f"/projects/{project}/exports/{job.id}/download", status=404)
    no_csrf = alice.client.post(f"/projects/{web.project}/exports/{job.id}/delete")
    assert no_csrf.status_code == 403
    alice.post(f"/projects/{web.project}/exports/{job.id}/rerun")
    assert web.store.jobs.count(web.project) == 2
    alice.post(f"/projects/{web.project}/exports/{job.id}/delete")
    assert not re.search(rf'data-export="{job.id}"',
                         alice.get(f"/projects/{web.project}/exports").text)


def test_form_fields_become_the_services_export_json() -> None:
    from starlette.datastructures import FormData

    from labelport.web.export_form import request_from_form

    form = FormData([("format", "yolo"), ("ids", "3 4,5"), ("statuses", "labeled"),
                     ("statuses", "rejected"), ("labels", "car"), ("min_score", "0.5"),
                     ("map", "car=vehicle\n"), ("drop_class", "tree"), ("check", "degenerate=fail"),
                     ("split", "train=0.8,val=0.2"), ("split_strategy", "stratified"),
                     ("split_seed", "7"), ("group_by", "camera"), ("media", "copy"),
                     ("package", "zip"), ("password", " spaced "), ("frames", "all"),
                     ("frame_step", "5"), ("split_by_frame", "1"), ("options", "")])
    assert request_from_form(form) == {
        "format": "yolo",
        "selection": {"ids": ["3", "4", "5"], "statuses": ["labeled", "rejected"],
                      "labels": ["car"], "min_score": 0.5},
        "map": {"car": "vehicle"}, "drop_class": ["tree"], "check": {"degenerate": "fail"},
        "split": {"fractions": "train=0.8,val=0.2", "strategy": "stratified", "seed": 7,
                  "group_by": "camera"},
        "media": "copy", "package": "zip", "password": " spaced ", "frames": "all",
        "frame_step": 5, "split_by_frame": True}


def test_verify_refuses_an_artifact_too_large_to_unpack(web: Web,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from labelport.web import verify

    alice = web.sign_in("alice")
    job = _run(alice, web, {"format": "coco", "package": "tar.gz"})
    monkeypatch.setattr(verify, "MAX_VERIFY_BYTES", 100)
    refused = alice.post(f"/projects/{web.project}/exports/{job.id}/verify", status=400).text
    assert "Verify unpacks on the server" in refused


def test_an_error_is_placed_next_to_the_field_it_names() -> None:
    from labelport.web.export_form import field_of

    assert field_of("format 'coco' has no option 'x'; options: a, b") == "options"
    assert field_of("export option `split` must be a string") == "split"
    assert field_of("an export job is downloaded as one file: choose package zip") == "package"
    assert field_of("something else entirely") is None
