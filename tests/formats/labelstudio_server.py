"""A real Label Studio server for the tests, and the few API calls they make.

``make test`` builds ``.venv-labelstudio-server`` (``label-studio`` pinned in the Makefile, with
a migrated database as a template beside it) and names its Python in
``LABELPORT_LS_SERVER_PYTHON``; CI runs ``make test``. By hand::

    make .venv-labelstudio-server/.installed
    LABELPORT_LS_SERVER_PYTHON=$PWD/.venv-labelstudio-server/bin/python \\
        .venv/bin/python -m pytest tests/formats/test_labelstudio_server.py

The server listens on 127.0.0.1 on a free port, with its data folder (a copy of the template)
and its local-files document root in a temporary folder, the legacy API token of the template's
user, local files serving on and no version check. When it cannot start,
:func:`tests.required.unavailable` fails the test in CI and skips it elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.required import unavailable

ENV_VAR = "LABELPORT_LS_SERVER_PYTHON"
USER = "labelport@example.com"
PASSWORD = "labelport-test"
TOKEN = "labelport-test-token"
"""The template's user (made by the Makefile's ``label-studio init``)."""

_START_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(slots=True)
class LabelStudio:
    """A running server: its URL, its document root for local files, its process."""

    url: str
    document_root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer of an API call; an HTTP error fails with Label Studio's message."""
        raw = self.fetch(method, path, body)
        return json.loads(raw) if raw else None

    def fetch(self, method: str, path: str, body: Any = None) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"Label Studio refused {method} {path}: {exc.code} "
                                 f"{exc.read()[:2000]!r}") from None

    def upload(self, project: int, file: Path) -> Any:
        """Import ``file`` into ``project`` as Label Studio's upload does (multipart)."""
        boundary = "labelport-test-boundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{file.name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(
            f"{self.url}/api/projects/{project}/import", data=body, method="POST",
            headers={"Authorization": f"Token {TOKEN}",
                     "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(workdir: Path) -> LabelStudio:
    """Start a server whose files all live under ``workdir``; ``unavailable`` when it cannot."""
    named = os.environ.get(ENV_VAR)
    if not named:
        unavailable(f"{ENV_VAR} is not set: run the tests with `make test`, or build the venv "
                    "(see tests/formats/labelstudio_server.py)")
    python = Path(named)
    executable = python.parent / "label-studio"
    template = python.parent.parent / "template"
    if not (executable.is_file() and (template / "label_studio.sqlite3").is_file()):
        unavailable(f"{ENV_VAR}={named}: no label-studio beside it, or no migrated template "
                    f"at {template} (make .venv-labelstudio-server/.installed)")
    data = workdir / "data"
    shutil.copytree(template, data)
    root = workdir / "root"
    root.mkdir()
    port = _free_port()
    env = {**os.environ, "HOME": str(workdir), "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
           "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
           "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(root),
           "LATEST_VERSION_CHECK": "false", "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true"}
    log = workdir / "label-studio.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(executable), "start", "--no-browser", "--internal-host", "127.0.0.1",
             "--port", str(port), "--data-dir", str(data), "--username", USER,
             "--password", PASSWORD, "--user-token", TOKEN],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LabelStudio(url=f"http://127.0.0.1:{port}", document_root=root, process=process,
                         log=log)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
    unavailable(f"Label Studio did not start within {_START_TIMEOUT_S} s:\n{tail}")
