"""A real S3 API for object-storage tests: moto's standalone server (``moto[server]``, in the
dev extra) started as a separate process on a free loopback port, once per test session. A
test module imports the ``*_fixture`` functions to use the fixtures ``s3_endpoint`` and
``s3_env``.

labelport itself knows no endpoint: s3fs (through botocore) takes it, and the credentials, from
the standard AWS variables, which `s3_env` sets for one test, as an operator would for the
service. Missing moto or a server that does not answer is `unavailable` (a failure in CI)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.required import unavailable

START_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session", name="s3_endpoint")
def s3_endpoint_fixture() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto server running until the session ends."""
    try:
        import moto.server  # noqa: F401
    except ImportError as error:
        unavailable(f"moto[server] is not installed ({error}); pip install -e '.[dev]'")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    error_text = process.communicate()[1].decode(errors="replace")[-500:]
                    unavailable(f"moto server did not start on port {port}: {error_text}")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(name="s3_env")
def s3_env_fixture(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The AWS variables naming the moto server, for this test; yields its endpoint. fsspec's
    cached filesystems are dropped before and after, so none keeps another test's endpoint."""
    import fsspec

    for name, value in (("AWS_ENDPOINT_URL", s3_endpoint), ("AWS_ACCESS_KEY_ID", "test"),
                        ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    s3 = fsspec.get_filesystem_class("s3")
    s3.clear_instance_cache()
    yield s3_endpoint
    s3.clear_instance_cache()


def make_bucket(name: str) -> None:
    """Create the bucket ``name`` on the server `s3_env` names (empty if it existed)."""
    import fsspec

    fs = fsspec.filesystem("s3")
    if fs.exists(name):
        fs.rm(name, recursive=True)
    fs.mkdir(name)
    fs.invalidate_cache()
