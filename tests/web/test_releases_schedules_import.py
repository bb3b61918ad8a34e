"""The Releases, Schedules and Import tabs: a release from a selection, a diff of two, export
links; a schedule created, paused, resumed and deleted; an import with its counts, and a
broken file's error in words, importing nothing."""

from __future__ import annotations

import json

from tests.web.conftest import Web


def test_releases_create_diff_and_export_links(web: Web) -> None:
    alice = web.sign_in("alice")
    base = f"/projects/{web.project}/releases"
    alice.post(base, {"name": "v1"})
    alice.post(base, {"name": "v2", "statuses": ["labeled", "reviewed", "rejected"]})
    page = alice.get(base).text
    assert 'data-release="v1"' in page and 'data-release="v2"' in page
    assert "exports/new?since_release=v1" in page
    diff = alice.get(f"{base}/diff?a=v1&b=v2").text
    assert "From v1 to v2: 0 added, 2 removed" in diff
    assert "<li>train-pool/empty_006.png</li>" in diff
    taken = alice.post(base, {"name": "v1"}, status=400).text
    assert 'class="error"' in taken
    dialog = alice.get(f"/projects/{web.project}/exports/new?since_release=v1").text
    assert '<option selected>v1</option>' in dialog
    vera = web.sign_in("vera")
    assert "New release" not in vera.get(base).text
    vera.post(base, {"name": "v3"}, status=403)


def test_schedules_create_pause_resume_delete(web: Web) -> None:
    alice = web.sign_in("alice")
    base = f"/projects/{web.project}/schedules"
    alice.post(base, {"name": "nightly", "format": "yolo", "cron": "0 3 * * *",
                      "package": "zip"})
    [schedule] = web.store.schedules.of_project(web.project)
    assert schedule.cron == "0 3 * * *" and schedule.enabled
    assert 'data-schedule="' in alice.get(base).text
    alice.post(f"{base}/{schedule.id}/pause")
    assert not web.store.schedules.get(schedule.id).enabled
    alice.post(f"{base}/{schedule.id}/resume")
    assert web.store.schedules.get(schedule.id).enabled
    bad = alice.post(base, {"name": "x", "format": "yolo", "every_minutes": "soon"},
                     status=400).text
    assert "every_minutes" in bad
    alice.post(f"{base}/{schedule.id}/delete")
    assert web.store.schedules.of_project(web.project) == []
    web.sign_in("vera").get(base, status=403)


def test_import_counts_and_errors(web: Web) -> None:
    alice = web.sign_in("alice")
    base = f"/projects/{web.project}/import"
    assert 'enctype="multipart/form-data"' in alice.get(base).text
    coco = {"images": [{"id": 1, "file_name": "new.jpg", "width": 10, "height": 10}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2],
                             "area": 4, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "car"}]}
    done = alice.post(base, {"format": "coco", "dataset": "imported"}, status=201,
                      files={"file": ("labels.json", json.dumps(coco).encode())}).text
    assert "Imported 1 items" in done and "1 objects" in done
    before = len(web.store.source("sample"))
    broken = alice.post(base, {"format": "coco"}, status=400,
                        files={"file": ("broken.json", b'{"images": [')}).text
    assert 'class="error"' in broken and "broken.json" in broken
    assert len(web.store.source("sample")) == before
    web.sign_in("vera").get(base, status=403)
