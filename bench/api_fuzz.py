"""The long schemathesis run of issue 13: every phase (examples, coverage, fuzzing, stateful),
positive and negative data, against a live service on a fresh SQLite store holding the sample
project, with a real token; passes only when no request gets a 5xx.

    .venv/bin/python bench/api_fuzz.py [--examples 50] [--workers 2]

Not run by `make test` (about two minutes); the suite runs the bounded positive and negative
checks (tests/api/test_openapi_fuzz.py)."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from labelport.api.app import create_app
from labelport.api.settings import Settings
from labelport.domain.schema import LabelSchema
from labelport.sample import build_sample
from labelport.store.users import Role


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="labelport-api-fuzz-") as tmp:
        folder = Path(tmp)
        app = create_app(Settings(db=str(folder / "store.db"), media_dir=folder / "media"))
        store = app.state.store
        store.users.create_user("alice")
        token = store.users.create_token("alice")
        store.create_project("sample", LabelSchema())
        store.import_source("sample", build_sample(folder / "sample-media"))
        store.users.set_member(store.list_projects()[0].id, "alice", Role.OWNER)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        st = Path(sys.executable).with_name("st")
        try:
            return subprocess.call([
                str(st), "run", f"http://127.0.0.1:{port}/openapi.json",
                "-H", f"Authorization: Token {token}", "--mode", "all",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--checks", "not_a_server_error", "--max-examples", str(args.examples),
                "--generation-deterministic", "-w", str(args.workers)])
        finally:
            server.should_exit = True
            thread.join(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
