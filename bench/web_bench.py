"""Benchmark of the web app at 100,000 items: the server time of the Items page (the first page,
a page deep in the keyset, and a filtered page), the Exports page, and a cached thumbnail.

Builds a project of ``--items`` images (5 boxes each, 200 distinct small JPEGs on disk shared
round-robin, task statuses cycling) and ``--jobs`` finished export jobs in a fresh SQLite
store, signs in, and times each page ``--repeat`` times in process (FastAPI's TestClient: the
time from the request to the whole answer, no network), warming the thumbnail cache first.

Targets (issue 10): Items and Exports pages under 300 ms (median), a cached thumbnail under
50 ms.

    .venv/bin/python bench/web_bench.py [--items 100000] [--jobs 50] [--repeat 30]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from labelport.api.app import create_app
from labelport.api.settings import Settings
from labelport.domain.geometry import Box
from labelport.domain.model import Annotation, Item, ItemRecord, ProjectInfo, Task, TaskStatus
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import StreamSource
from labelport.jobs.config import JobSettings
from labelport.store.jobs import Artifact

CLASSES = ("car", "person", "bicycle", "dog", "traffic light")
SCHEMA = LabelSchema(classes=tuple(LabelClass(id=i, name=n) for i, n in enumerate(CLASSES, 1)))
STATUSES = (TaskStatus.LABELED, TaskStatus.REVIEWED, TaskStatus.NEW, TaskStatus.REJECTED)
PASSWORD = "bench password"
IMAGES = 200


def records(count: int, media: Path) -> Iterator[ItemRecord]:
    for i in range(count):
        yield ItemRecord(
            item=Item(dataset="bench", path=f"images/{i:08d}.jpg", width=640, height=480,
                      media_uri=str(media / f"{i % IMAGES:03d}.jpg")),
            tasks=(Task(status=STATUSES[i % len(STATUSES)], assignee=f"a{i % 9}"),),
            annotations=tuple(
                Annotation(label=CLASSES[(i + j) % len(CLASSES)],
                           geometry=Box(x=float(j * 100), y=float(i % 300), w=80.0, h=60.0),
                           annotator=f"a{i % 9}")
                for j in range(5)))


def timed(client: TestClient, url: str, repeat: int) -> tuple[float, int]:
    """Median milliseconds of ``repeat`` GETs of ``url``, and the answer's size."""
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.text[-500:])
        size = len(response.content)
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="labelport-web-bench-"))
    media = folder / "media"
    media.mkdir()
    for k in range(IMAGES):
        Image.new("RGB", (640, 480), (k, 255 - k, (3 * k) % 256)).save(media / f"{k:03d}.jpg")
    jobs = JobSettings.from_env(artifacts=str(folder / "artifacts"), runner="local",
                                media_roots=str(media))
    app = create_app(Settings(db=str(folder / "web.db"), media_dir=folder / "uploads",
                              jobs=jobs))
    store = app.state.store
    start = time.perf_counter()
    user = store.users.create_user("bench")
    store.users.set_password("bench", PASSWORD)
    project = store.project_settings.create("bench", SCHEMA, description="", owner_id=user.id)
    store.import_source("bench", StreamSource(
        project=ProjectInfo(name="bench"), schema=SCHEMA, count=args.items,
        open_records=lambda: records(args.items, media)))
    for _ in range(args.jobs):
        job_id = store.jobs.create(project.id, {"format": "coco", "package": "zip"},
                                   created_by=user.id)
        store.jobs.claim(job_id, "bench")
        store.jobs.complete(job_id, "bench", artifact=Artifact(
            uri=f"file://{folder}/none-{job_id}.zip", name=f"export-{job_id}.zip",
            size=1234, sha256="0" * 64), counts={"items": args.items}, expires_at=None)
    print(f"built {args.items} items, {5 * args.items} boxes, {args.jobs} jobs in "
          f"{time.perf_counter() - start:.1f} s")
    with TestClient(app) as client:
        login = client.get("/login").text
        token = re.search(r'name="csrftoken" value="([^"]+)"', login)
        assert token
        client.post("/login", data={"name": "bench", "password": PASSWORD,
                                    "csrftoken": token.group(1)})
        base = f"/projects/{project.id}"
        first = client.get(f"{base}/items").text
        deep_after = store.items.items(project.id, offset=args.items - 100, limit=1).rows[0].id
        first_item = re.findall(r'data-item="(\d+)"', first)[0]
        thumb = f"{base}/items/{first_item}/image"
        client.get(thumb)  # made once, then cached
        pages = {
            "items, first page": f"{base}/items",
            "items, a page 100 items before the end": f"{base}/items?after={deep_after}",
            "items, filtered (status rejected, class dog)":
                f"{base}/items?status=rejected&label=dog",
            "exports": f"{base}/exports",
            "thumbnail (cached)": thumb,
        }
        print(f"{'page':48} {'median ms':>10} {'bytes':>9}")
        for name, url in pages.items():
            median, size = timed(client, url, args.repeat)
            print(f"{name:48} {median:10.1f} {size:9d}")


if __name__ == "__main__":
    main()
