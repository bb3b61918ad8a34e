"""Verify on the export page compares objects one by one with the comparison of ``--verify``
(`labelport.export.verify.compare_item`): a box moved in the artifact is flagged, an untouched
artifact is clean, and what the format cannot carry (VOC's envelope of a rotated box) is shown
as expected, not as a difference."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import replace
from pathlib import Path

from labelport.domain.geometry import Box
from labelport.jobs.artifacts import ArtifactStorage
from labelport.sample import build_sample
from labelport.store.jobs import JobInfo
from labelport.web.verify import _compared
from tests.web.conftest import Web
from tests.web.test_exports import _run


def _verify(web: Web, job: JobInfo) -> str:
    alice = web.sign_in("alice")
    return alice.post(f"/projects/{web.project}/exports/{job.id}/verify", status=200).text


def _artifact(web: Web, job: JobInfo) -> Path:
    assert job.status.value == "completed", job.error
    assert job.artifact_uri is not None
    path = ArtifactStorage(web.app.state.settings.jobs.artifacts).local_path(job.artifact_uri)
    assert path is not None
    return path


def _move_boxes(archive: Path, dx: float) -> int:
    """Move every object of the COCO JSON in ``archive`` right by ``dx`` pixels (its box and
    its polygon); how many were moved."""
    with zipfile.ZipFile(archive) as zipped:
        entries = {info.filename: zipped.read(info) for info in zipped.infolist()}
    moved = 0
    for name, data in entries.items():
        if not (name.endswith(".json") and "/annotations/" in f"/{name}"):
            continue
        coco = json.loads(data)
        for annotation in coco["annotations"]:
            annotation["bbox"][0] += dx
            for polygon in annotation.get("segmentation") or []:
                if isinstance(polygon, list):
                    polygon[0::2] = [x + dx for x in polygon[0::2]]
            moved += 1
        entries[name] = json.dumps(coco).encode()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in entries.items():
            zipped.writestr(name, data)
    return moved


def test_untouched_coco_export_verifies_clean(web: Web) -> None:
    job = _run(web.sign_in("alice"), web, {"format": "coco", "package": "zip"})
    _artifact(web, job)
    page = _verify(web, job)
    assert "no differences" in page and "differences found" not in page
    assert 'class="loss difference"' not in page and "shape flagged" not in page
    assert page.count('class="pair"') >= 1
    expected = re.findall(r'class="hint expected">expected: ([^<]+)<', page)
    assert any("polygon" in e and "reads back as mask" in e for e in expected), expected
    assert not any("reads back as mask (" in e for e in expected), expected  # no report count


def test_a_box_moved_in_the_coco_json_is_flagged(web: Web) -> None:
    job = _run(web.sign_in("alice"), web, {"format": "coco", "package": "zip"})
    assert _move_boxes(_artifact(web, job), dx=25) > 0
    page = _verify(web, job)
    assert "differences found" in page
    flagged = re.findall(r'class="loss difference">differs: ([^<]+)<', page)
    assert any("stored is not read back" in d for d in flagged), flagged
    assert any("read back is not stored" in d for d in flagged), flagged
    assert 'class="pair differs"' in page
    assert page.count("shape flagged") >= 2  # the box stored and the one read back, marked


def test_voc_envelope_of_a_rotated_box_is_expected_not_flagged(web: Web) -> None:
    job = _run(web.sign_in("alice"), web, {"format": "voc", "package": "zip"})
    _artifact(web, job)
    page = _verify(web, job)
    expected = re.findall(r'class="hint expected">expected: ([^<]+)<', page)
    assert any("rotated_box" in e and "reads back as box" in e and
               "converted: rotated_box to its bounding box" in e for e in expected), expected
    assert 'class="loss difference"' not in page and "no differences" in page
    assert not any("polygon" in e.split(" reads back")[0] and "rotated_box" in e
                   for e in expected), expected  # a conversion is not put down to another


def test_the_stored_side_is_mapped_as_the_export_mapped_it(web: Web) -> None:
    job = _run(web.sign_in("alice"), web, {"format": "coco", "package": "zip",
                                           "map": "car=vehicle", "drop_class": "tree"})
    _artifact(web, job)
    page = _verify(web, job)
    assert "no differences" in page and 'class="loss difference"' not in page
    assert "vehicle" in page


def test_yolo_export_without_media_reads_sizes_from_the_stored_images(web: Web) -> None:
    job = _run(web.sign_in("alice"), web, {"format": "yolo", "package": "zip"})
    _artifact(web, job)
    page = _verify(web, job)
    assert "no differences" in page and 'class="loss difference"' not in page


def test_an_artifact_its_reader_refuses_is_named_inside_the_artifact(web: Web) -> None:
    job = _run(web.sign_in("alice"), web, {"format": "coco", "package": "zip"})
    archive = _artifact(web, job)
    with zipfile.ZipFile(archive) as zipped:
        entries = {info.filename: zipped.read(info) for info in zipped.infolist()}
    broken = next(name for name in entries if name.endswith(".json") and "annotations" in name)
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in entries.items():
            zipped.writestr(name, b"{" if name == broken else data)
    alice = web.sign_in("alice")
    page = alice.post(f"/projects/{web.project}/exports/{job.id}/verify", status=400).text
    assert "reader cannot read this export back" in page and "labelport-verify-" not in page


def test_a_video_box_moved_on_some_frames_is_flagged(tmp_path: Path) -> None:
    """On a video the comparison is frame by frame: a track found on some frames only is
    flagged with the first frame that differs."""
    sample = build_sample(tmp_path, video=True)
    video = sample.items[-1]
    moved = replace(video, annotations=tuple(
        replace(a, geometry=Box(x=84, y=60, w=30, h=16)) if (a.instance_id, a.frame) == (1, 14)
        else a for a in video.annotations))
    found = _compared(video, moved, "cvat_video", sample.schema, {}, clip=True)
    assert found.flagged == ["box of class 'car' at x=39 y=60 w=30 h=16 written on frame 7 is "
                             "not read back"]
    assert not _compared(video, video, "cvat_video", sample.schema, {}, clip=True).flagged
