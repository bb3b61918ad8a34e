"""Every resource through the API, on SQLite and PostgreSQL: projects, schema, datasets,
labelsets, items (bulk and upload), tasks, annotations, predictions, releases, formats, import;
pagination; ids are store ids."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import httpx
from PIL import Image

from labelport.export.run import run_export
from labelport.formats.registry import all_formats, get_format
from tests.api.conftest import Api

BOX = {"kind": "box", "x": 1.5, "y": 2, "w": 10, "h": 5}


def _project(api: Api, name: str = "fresh", classes: list[dict[str, object]] | None = None
             ) -> str:
    created = api.ok("alice", "POST", "/api/projects", 201, json={
        "name": name, "schema": {"classes": classes or [{"name": "car"}, {"name": "dog"}]}})
    return f"/api/projects/{created['id']}"


def test_projects_crud_and_pagination(api: Api) -> None:
    for n in range(3):
        _project(api, f"p{n}")
    page = api.ok("alice", "GET", "/api/projects?page=2&page_size=2")
    assert page["count"] == 4
    assert [p["name"] for p in page["results"]] == ["p2", "sample"]
    assert page["next"] is None and "page=1" in page["previous"]
    first = api.ok("alice", "GET", "/api/projects?page_size=2")
    assert "page=2" in first["next"] and first["previous"] is None
    base = _project(api, "renamed-later")
    assert api.ok("alice", "PATCH", base, json={"name": "renamed", "description": "d"})[
        "name"] == "renamed"
    assert api.call("alice", "PATCH", base, json={"name": "p0"}).status_code == 409
    assert api.call("alice", "POST", "/api/projects", json={"name": "p0"}).status_code == 400
    api.ok("alice", "DELETE", base, 204)
    assert api.call("alice", "GET", base).status_code == 404


def test_schema_put_keeps_class_ids_and_annotations(api: Api) -> None:
    base = _project(api)
    assert [(c["id"], c["name"]) for c in api.ok("alice", "GET", f"{base}/schema")["classes"]
            ] == [(1, "car"), (2, "dog")]
    (item,) = api.ok("alice", "POST", f"{base}/items", 201, json=[
        {"path": "a.jpg", "width": 100, "height": 50}])["ids"]
    api.ok("alice", "POST", f"{base}/annotations", 201,
           json={"item": item, "label": "car", "geometry": BOX})
    schema = api.ok("alice", "PUT", f"{base}/schema", json={"classes": [
        {"id": 2, "name": "dog"}, {"id": 1, "name": "automobile", "color": "#ff0000"},
        {"name": "cat", "geometry": "polygon"}]})
    assert [(c["id"], c["name"]) for c in schema["classes"]] == [
        (2, "dog"), (1, "automobile"), (3, "cat")]
    (annotation,) = api.ok("alice", "GET", f"{base}/annotations")["results"]
    assert annotation["label"] == "automobile"
    refused = api.call("alice", "PUT", f"{base}/schema", json={"classes": [{"id": 2,
                                                                            "name": "dog"}]})
    assert refused.status_code == 409
    assert "automobile" in refused.json()["error"]["message"]
    twice = api.call("alice", "PUT", f"{base}/schema",
                     json={"classes": [{"name": "a"}, {"name": "a"}]})
    assert twice.status_code == 400


def test_datasets_labelsets_items_and_tasks(api: Api) -> None:
    base = _project(api)
    dataset = api.ok("alice", "POST", f"{base}/datasets", 201, json={"name": "train"})
    assert api.call("alice", "POST", f"{base}/datasets", json={"name": "train"}
                    ).status_code == 409
    created = api.ok("alice", "POST", f"{base}/items", 201, json=[
        {"dataset": "train", "path": f"img{n}.jpg", "width": 640, "height": 480,
         "media_uri": f"s3://bucket/img{n}.jpg", "metadata": {"n": n}} for n in range(5)])
    assert created["created"] == 5
    again = api.call("alice", "POST", f"{base}/items", json=[
        {"dataset": "train", "path": "new.jpg", "width": 1, "height": 1},
        {"dataset": "train", "path": "img0.jpg", "width": 1, "height": 1}])
    assert again.status_code == 409
    page = api.ok("alice", "GET", f"{base}/items?page=2&page_size=2&dataset_id={dataset['id']}")
    assert page["count"] == 5 and [i["path"] for i in page["results"]] == ["img2.jpg",
                                                                           "img3.jpg"]
    item = created["ids"][0]
    shown = api.ok("alice", "GET", f"{base}/items/{item}")
    assert (shown["id"], shown["width"], shown["metadata"]) == (item, 640, {"n": 0})
    assert api.ok("alice", "PATCH", f"{base}/items/{item}", json={"width": 320})["width"] == 320
    assert api.ok("alice", "GET", f"{base}/datasets/{dataset['id']}")["items"] == 5
    assert api.call("alice", "DELETE", f"{base}/datasets/{dataset['id']}").status_code == 409

    tasks = api.ok("alice", "GET", f"{base}/tasks?item={item}")["results"]
    assert [(t["labelset"], t["status"]) for t in tasks] == [("ground-truth", "new")]
    task = api.ok("alice", "PATCH", f"{base}/tasks/{tasks[0]['id']}", json={
        "status": "labeled", "assignee": "alice", "reviewer": "bob",
        "classifications": [{"name": "weather", "values": ["sunny"]}]})
    assert (task["status"], task["assignee"], task["classifications"]) == (
        "labeled", "alice", [{"name": "weather", "values": ["sunny"]}])
    assert api.ok("alice", "PATCH", f"{base}/tasks/{task['id']}",
                  json={"assignee": ""})["assignee"] is None
    assert api.ok("alice", "GET", f"{base}/tasks?status=labeled")["count"] == 1

    api.ok("alice", "DELETE", f"{base}/items/{item}", 204)
    assert api.call("alice", "GET", f"{base}/items/{item}").status_code == 404
    assert api.ok("alice", "GET", f"{base}/tasks?item={item}")["count"] == 0
    api.ok("alice", "POST", f"{base}/labelsets", 201, json={"name": "second-opinion"})
    assert [ls["name"] for ls in api.ok("alice", "GET", f"{base}/labelsets")] == [
        "ground-truth", "second-opinion"]


def test_ids_of_another_project_are_not_found(api: Api) -> None:
    base = _project(api)
    sample = f"/api/projects/{api.project}"
    foreign_item = api.ok("alice", "GET", f"{sample}/items?page_size=1")["results"][0]["id"]
    assert api.call("alice", "GET", f"{base}/items/{foreign_item}").status_code == 404
    bad = api.call("alice", "POST", f"{base}/annotations",
                   json={"item": foreign_item, "label": "car", "geometry": BOX})
    assert bad.status_code == 404


def test_image_upload_reads_the_size_with_exif_orientation(api: Api) -> None:
    base = _project(api)
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees
    Image.new("RGB", (40, 20)).save(rotated, "JPEG", exif=exif)
    plain = io.BytesIO()
    Image.new("RGB", (30, 10)).save(plain, "PNG")
    created = api.ok("alice", "POST", f"{base}/items/upload", 201, data={"dataset": "up"},
                     files=[("files", ("r.jpg", rotated.getvalue(), "image/jpeg")),
                            ("files", ("../p.png", plain.getvalue(), "image/png"))])
    items = {i["path"]: i for i in api.ok("alice", "GET", f"{base}/items")["results"]}
    assert created["created"] == 2
    assert (items["r.jpg"]["width"], items["r.jpg"]["height"]) == (20, 40)
    assert (items["p.png"]["width"], items["p.png"]["height"]) == (30, 10)
    stored = Path(items["p.png"]["media_uri"])
    assert stored.is_file() and stored.is_relative_to(api.media / "media")
    broken = api.call("alice", "POST", f"{base}/items/upload",
                      files=[("files", ("x.jpg", b"not an image", "image/jpeg"))])
    assert broken.status_code == 400
    assert not any(p.name.startswith("tmp") for p in stored.parent.iterdir())


def test_annotations_and_predictions(api: Api) -> None:
    base = _project(api)
    items = api.ok("alice", "POST", f"{base}/items", 201, json=[
        {"path": f"{n}.jpg", "width": 100, "height": 100} for n in range(2)])["ids"]
    one = api.ok("alice", "POST", f"{base}/annotations", 201, json={
        "item": items[0], "label": "car", "geometry": BOX, "attributes": {"occluded": True},
        "tags": ["t"]})
    assert (one["annotator"], one["source"], one["geometry"]) == ("alice", "human", BOX)
    polygon = {"kind": "polygon", "parts": [{"outer": [0, 0, 10, 0, 10, 10]}]}
    bulk = api.ok("alice", "POST", f"{base}/annotations/bulk", 201, json=[
        {"item": items[1], "label": "dog", "geometry": polygon},
        {"item": items[1], "label": "car", "geometry": {"kind": "none"}}])
    assert bulk["created"] == 2
    changed = api.ok("alice", "PATCH", f"{base}/annotations/{one['id']}",
                     json={"label": "dog", "geometry": {**BOX, "w": 3}})
    assert (changed["label"], changed["geometry"]["w"], changed["tags"]) == ("dog", 3, ["t"])
    predicted = api.ok("alice", "POST", f"{base}/predictions", 201, json={
        "item": items[0], "label": "car", "geometry": BOX, "score": 0.75, "model": "yolo"})
    assert (predicted["source"], predicted["score"], predicted["labelset"],
            predicted["annotator"]) == ("model", 0.75, "predictions", "yolo")
    api.ok("alice", "POST", f"{base}/predictions/bulk", 201, json=[
        {"item": items[1], "label": "dog", "geometry": BOX, "score": 0.5,
         "labelset": "model-b"}])
    assert api.ok("alice", "GET", f"{base}/predictions")["count"] == 2
    assert api.ok("alice", "GET", f"{base}/annotations?source=human")["count"] == 3
    assert api.ok("alice", "GET", f"{base}/annotations?item={items[1]}&labelset=ground-truth"
                  )["count"] == 2
    tasks = api.ok("alice", "GET", f"{base}/tasks?labelset=predictions")["results"]
    assert [t["item"] for t in tasks] == [items[0]]
    api.ok("alice", "DELETE", f"{base}/annotations/{one['id']}", 204)
    assert api.call("alice", "GET", f"{base}/annotations/{one['id']}").status_code == 404
    unknown = api.call("alice", "POST", f"{base}/annotations",
                       json={"item": items[0], "label": "zebra", "geometry": BOX})
    assert unknown.status_code == 404 and "car" in unknown.json()["error"]["message"]
    rejected = api.call("alice", "POST", f"{base}/annotations/bulk", json=[
        {"item": items[0], "label": "car", "geometry": BOX},
        {"item": items[0], "label": "car", "geometry": {"kind": "box", "x": "a"}}])
    assert rejected.status_code == 400
    assert api.ok("alice", "GET", f"{base}/annotations?item={items[0]}&source=human"
                  )["count"] == 0


def test_releases(api: Api) -> None:
    base = f"/api/projects/{api.project}"
    first = api.ok("alice", "POST", f"{base}/releases", 201, json={"name": "v1"})
    assert first["version"] == 1 and first["items"] > 0
    item = api.ok("alice", "GET", f"{base}/items?page_size=1")["results"][0]["id"]
    api.ok("alice", "DELETE", f"{base}/items/{item}", 204)
    second = api.ok("alice", "POST", f"{base}/releases", 201, json={
        "name": "v2", "selection": {"statuses": ["labeled", "reviewed"]}})
    assert second["selection"]["statuses"] == ["labeled", "reviewed"]
    assert [r["name"] for r in api.ok("alice", "GET", f"{base}/releases")] == ["v1", "v2"]
    assert api.ok("alice", "GET", f"{base}/releases/v1") == first
    diff = api.ok("alice", "GET", f"{base}/releases/v1/diff/v2")
    assert diff["from"] == "v1" and diff["to"] == "v2" and diff["removed"]
    assert api.call("alice", "GET", f"{base}/releases/v9").status_code == 404
    bad = api.call("alice", "POST", f"{base}/releases",
                   json={"name": "v3", "selection": {"statuses": ["nope"]}})
    assert bad.status_code == 400


def test_formats_from_the_registry(api: Api) -> None:
    listed = api.ok("alice", "GET", "/api/formats")
    assert [f["name"] for f in listed] == [spec.name for spec in all_formats()]
    coco = api.ok("alice", "GET", "/api/formats/coco")
    assert coco["write"] and "box" in coco["geometries"]
    assert coco["shardable"] and not coco["unshardable"]
    mot = api.ok("alice", "GET", "/api/formats/mot")
    assert not mot["shardable"] and "video" in mot["unshardable"]
    assert api.call("alice", "GET", "/api/formats/nope").status_code == 404


def test_import_all_or_nothing(api: Api, tmp_path: Path) -> None:
    exported = run_export(api.store.source("sample"), get_format("labelport"),
                          tmp_path / "export").path
    files = sorted(p for p in exported.rglob("*.json") if p.name != "labelport-export.json")
    document = files[0].read_bytes()
    base = _project(api, classes=[{"name": "x"}])
    summary = api.ok("alice", "POST", f"{base}/import", 201, data={"format": "labelport"},
                     files={"file": (files[0].name, document)})
    assert summary["items"] == api.store.project_stats("sample").items
    again = api.call("alice", "POST", f"{base}/import", data={"format": "labelport"},
                     files={"file": (files[0].name, document)})
    assert again.status_code == 400
    assert api.ok("alice", "GET", f"{base}/items")["count"] == summary["items"]
    unknown = api.call("alice", "POST", f"{base}/import", data={"format": "nope"},
                       files={"file": ("a.json", b"{}")})
    assert unknown.status_code == 404


def test_import_takes_a_file_option_only_inside_the_upload(api: Api, tmp_path: Path) -> None:
    """The masks readers' class list (option ``schema``) is a file of the uploaded archive: a
    path to the server's files is refused before anything is read."""
    exported = run_export(api.store.source("sample"), get_format("masks_semantic"),
                          tmp_path / "export").path
    (exported / "classes.txt").unlink()
    (exported / "labelmap.txt").rename(exported / "classes.labelmap")
    archive = shutil.make_archive(str(tmp_path / "masks"), "zip", exported)
    base = _project(api)

    def upload(schema: str) -> httpx.Response:
        options = json.dumps({"schema": schema})
        return api.call("alice", "POST", f"{base}/import",
                        data={"format": "masks_semantic", "options": options},
                        files={"file": ("masks.zip", Path(archive).read_bytes())})

    for outside in ("/etc/passwd", "../classes.labelmap"):
        refused = upload(outside)
        assert refused.status_code == 400, refused.text
        assert "name a file inside the uploaded archive" in refused.json()["error"]["message"]
    refused = upload("classes\0.labelmap")
    assert refused.status_code == 400, refused.text
    assert "expected the name of a file" in refused.json()["error"]["message"]
    imported = upload("classes.labelmap")
    assert imported.status_code == 201, imported.text
    assert imported.json()["items"] == api.store.project_stats("sample").items
