"""End to end in a real browser: Playwright driving Debian's Chromium (headless) against the
service started in this process on a free port, with every request the page makes to anywhere
but that server refused, so the pages are shown to work with no internet.

The scenario of issue 10: sign in, open the sample project, select three items, "Export
selected" as COCO with a split and a password (after the preview names what VOC would lose of
rotated boxes), watch the progress reach completed, download, open the zip with the password
and load the COCO with pycocotools; Verify; a viewer sees no New export; sign out. A screenshot
of every page is saved under ``$LABELPORT_SCREENSHOTS`` (default: a temporary folder), so a
failure can be seen."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from pycocotools.coco import COCO

from labelport.api.app import create_app
from labelport.api.settings import Settings
from labelport.domain.source import MemorySource
from labelport.jobs.config import JobSettings
from labelport.sample import SCHEMA, build_sample
from labelport.store import open_store
from tests.required import unavailable
from tests.web.conftest import PASSWORD, Template

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("LABELPORT_SCREENSHOTS")
             or Path(tempfile.gettempdir()) / "labelport-web-screenshots")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path, web_template: Template) -> Iterator[str]:
    """The service over a copy of the template store, served by uvicorn in a thread."""
    import uvicorn

    shutil.copyfile(web_template.db, tmp_path / "web.db")
    jobs = JobSettings.from_env(artifacts=str(tmp_path / "artifacts"), runner="local",
                                media_roots=str(web_template.sample_media))
    app = create_app(Settings(db=str(tmp_path / "web.db"), media_dir=tmp_path / "media",
                              jobs=jobs))
    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package playwright is not installed (pip install -e .[dev])")
    if not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Pages:
    """One browser context (one person) whose requests may reach only the server."""

    def __init__(self, browser: Any, base: str, who: str) -> None:
        self.base, self.who = base, who
        self.context = browser.new_context(accept_downloads=True, viewport={"width": 1280,
                                                                            "height": 900})
        self.outside: list[str] = []
        self.context.route("**/*", self._only_server)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        SHOTS.mkdir(parents=True, exist_ok=True)

    def _only_server(self, route: Any) -> None:
        if route.request.url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def shot(self, name: str) -> None:
        self.page.wait_for_function("() => [...document.images].every(i => i.complete)")
        self.page.screenshot(path=str(SHOTS / f"{self.who}-{name}.png"), full_page=True)

    def sign_in(self, name: str) -> None:
        self.page.goto(self.base + "/")
        assert "/login" in self.page.url
        self.shot("sign-in")
        self.page.fill("input[name=name]", name)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button:text('Sign in')")
        self.page.wait_for_selector("h1:text('Projects')")


def test_export_selected_items_in_the_browser(server: str, browser: Any) -> None:
    alice = Pages(browser, server, "alice")
    page = alice.page
    alice.sign_in("alice")
    alice.shot("projects")
    page.click("a:text('sample')")
    page.wait_for_selector("figure.chart svg")
    alice.shot("overview")

    page.click("nav.tabs a:text('Items')")
    page.wait_for_selector(".tile img")
    page.wait_for_function("() => [...document.querySelectorAll('.tile img')]"
                           ".every(img => img.complete && img.naturalWidth > 0)")
    boxes = page.locator("input.pick")
    for k in range(3):
        boxes.nth(k).check()
    assert page.inner_text("[data-selected-count]") == "3"
    alice.shot("items")
    page.click("a.frame >> nth=0")
    page.wait_for_selector(".item-page svg.shapes")
    alice.shot("item")
    page.go_back()
    page.wait_for_selector(".tile img")
    for k in range(3):
        page.locator("input.pick").nth(k).check()
    page.click("button:text('Export selected')")
    page.wait_for_selector("h2:text('New export')")
    assert len(page.input_value("input[name=ids]").split()) == 3

    page.fill("input[name=split]", "train=abc")
    page.click("button:text('Preview')")
    page.wait_for_selector("#preview .error")  # a 400 is shown, not dropped
    page.fill("input[name=split]", "")
    page.select_option("select[name=format]", "voc")
    page.fill("input[name=ids]", "")
    page.click("button:text('Preview')")
    page.wait_for_selector("#preview h3")
    assert "converted: rotated_box to its bounding box" in page.inner_text("#preview")
    alice.shot("preview-voc")

    page.go_back()
    page.wait_for_selector(".tile img")
    for k in range(3):
        page.locator("input.pick").nth(k).check()
    page.click("button:text('Export selected')")
    page.wait_for_selector("h2:text('New export')")
    page.select_option("select[name=format]", "coco")
    page.fill("input[name=split]", "train=0.67,val=0.33")
    page.fill("input[name=password]", "zip-s3cret")
    page.fill("input[name=name]", "three-items")
    page.click("button:text('Preview')")
    page.wait_for_selector("#preview h3")
    assert "3 items" in page.inner_text("#preview").replace("\n", " ")
    alice.shot("new-export")
    page.click("button:text('Run export')")
    page.wait_for_selector("tr[data-export]")
    alice.shot("exports-running")
    page.wait_for_selector("tr[data-status=completed]", timeout=60_000)
    alice.shot("exports")

    with page.expect_download() as download:
        page.click("tr[data-status=completed] a:text('Download')")
    archive = Path(download.value.path())
    with pyzipper.AESZipFile(archive) as zipped:
        zipped.setpassword(b"zip-s3cret")
        images = 0
        for name in zipped.namelist():
            if name.endswith(".json") and "annotations" in name:
                coco = COCO()
                coco.dataset = json.loads(zipped.read(name))
                coco.createIndex()
                images += len(coco.getImgIds())
    assert images == 3

    page.click("tr[data-status=completed] td a")
    page.wait_for_selector("button:text('Verify')")
    alice.shot("export")
    page.fill("form input[name=password]", "zip-s3cret")
    page.click("button:text('Verify')")
    page.wait_for_selector("#verified .pair")
    alice.shot("verify")

    page.click("nav.tabs a:text('Import')")
    coco = {"images": [{"id": 1, "file_name": "new.jpg", "width": 10, "height": 10}],
            "annotations": [], "categories": [{"id": 1, "name": "car"}]}
    page.set_input_files("input[name=file]", files=[{
        "name": "labels.json", "mimeType": "application/json",
        "buffer": json.dumps(coco).encode()}])
    page.select_option("select[name=format]", "coco")
    page.fill("input[name=dataset]", "imported")
    page.click("button:text('Import')")
    page.wait_for_selector("#import-result")
    assert "Imported 1 items" in page.inner_text("#import-result")
    alice.shot("import")
    page.click("nav.tabs a:text('Releases')")
    alice.shot("releases")
    page.click("nav.tabs a:text('Schedules')")
    alice.shot("schedules")

    page.goto(server + "/settings")
    page.click("button:text('New token')")
    page.wait_for_selector("#new-token")
    alice.shot("settings")
    page.goto(server + "/docs")
    page.wait_for_selector(".swagger-ui .title")
    alice.shot("docs")

    page.goto(server + "/")
    page.click("button:text('Sign out')")
    page.wait_for_selector("h1:text('Sign in')")
    page.goto(server + "/")
    assert "/login" in page.url
    assert alice.outside == [], f"the pages asked for more than the server: {alice.outside}"


def test_viewer_sees_no_export(server: str, browser: Any) -> None:
    vera = Pages(browser, server, "vera")
    vera.sign_in("vera")
    vera.page.click("a:text('sample')")
    vera.page.wait_for_selector("figure.chart svg")
    assert vera.page.locator("nav.tabs a:text('Exports')").count() == 0
    vera.page.click("nav.tabs a:text('Items')")
    vera.page.wait_for_selector(".tile")
    assert vera.page.locator("text=Export selected").count() == 0
    assert vera.page.locator("input.pick").count() == 0
    vera.shot("items")
    vera.page.goto(server + "/projects/1/exports/new")
    assert "Not allowed" in vera.page.inner_text("h1")
    vera.shot("exports-refused")
    assert vera.outside == []


def _add_demo_video(db: Path, media: Path) -> int:
    """The demo's clip (``build_sample(video=True)``) added to the sample project of the store
    ``db``, its media under the operator's media root ``media``; its item id."""
    [video] = [r for r in build_sample(media / "video-demo", video=True).records()
               if r.item.frame_count]
    store = open_store(str(db))
    try:
        store.import_source("sample", MemorySource(project=store.project("sample"),
                                                   schema=SCHEMA, items=(video,)))
        [item] = [r.item.id for r in store.source("sample").records() if r.item.frame_count]
    finally:
        store.close()
    assert item is not None
    return item


def test_video_item_draws_the_boxes_of_the_current_frame(server: str, browser: Any,
                                                         tmp_path: Path,
                                                         web_template: Template) -> None:
    item = _add_demo_video(tmp_path / "web.db", web_template.sample_media)
    alice = Pages(browser, server, "alice")
    page = alice.page
    alice.sign_in("alice")
    page.goto(f"{server}/projects/{web_template.project}/items/{item}")
    page.wait_for_function("() => { const v = document.getElementById('video-player');"
                           " return v.readyState >= 2 || v.error !== null; }")
    error = page.evaluate("() => document.getElementById('video-player').error?.message")
    assert error is None, f"Chromium cannot play the demo's clip: {error}"
    frames = json.loads(page.get_attribute("#video-player", "data-frames") or "{}")

    def drawn(frame: int) -> list[list[float]]:
        page.wait_for_function(f"() => document.getElementById('video-shapes')"
                               f".dataset.frame === '{frame}' && "
                               "!document.getElementById('video-player').seeking")
        assert page.inner_text("#video-frame") == str(frame)
        rects = page.eval_on_selector_all("#video-shapes rect", "rs => rs.map(r => "
                                          "['x', 'y', 'width', 'height'].map(k => "
                                          "parseFloat(r.getAttribute(k))))")
        assert rects == [box[:4] for box in frames.get(str(frame), [])]
        return list(rects)

    first = drawn(0)
    assert first, "no box drawn on the first frame"
    alice.shot("video-frame-0")
    page.click("button[data-step='1']")
    second = drawn(1)
    assert second and second != first  # the cars moved
    alice.shot("video-frame-1")
    for _ in range(6):
        page.click("button[data-step='1']")
    assert len(drawn(7)) < len(first)  # the blue car has left the picture
    alice.shot("video-frame-7")
    page.click("button[data-step='-1']")
    drawn(6)
    assert alice.outside == [], f"the page asked for more than the server: {alice.outside}"
