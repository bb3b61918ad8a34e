"""The Python client of the labelport service, on httpx: projects, items, annotations,
imports, and exports with the verbs of Label Studio's export snapshots::

    from labelport import Client

    client = Client("http://127.0.0.1:8080", token="...")
    export = client.create_export(project_id, format="coco", split="train=0.8,val=0.2")
    export.wait(progress=True)
    if export.is_completed():
        export.download("coco.zip")

An error answered by the service is raised as `ApiError` with its code and message.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from labelport.errors import LabelportError

_FINISHED = ("completed", "failed", "cancelled")


class ApiError(LabelportError):
    """The service refused a request; ``status`` is the HTTP status, ``code`` its error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class Client:
    """A session with the service at ``url`` as the user owning ``token``."""

    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Token {token}"})

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the API; the decoded JSON answer (None when empty)."""
        response = self.http.request(method, path, **kwargs)
        _raise_for_error(response)
        return response.json() if response.content else None

    # projects, items, annotations, imports ---------------------------------------------

    def projects(self) -> list[dict[str, Any]]:
        return list(self._pages("/api/projects"))

    def project(self, project: int) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/api/projects/{project}")
        return result

    def create_project(self, name: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/api/projects",
                                              json={"name": name, **fields})
        return result

    def items(self, project: int, **params: Any) -> list[dict[str, Any]]:
        return list(self._pages(f"/api/projects/{project}/items", params))

    def create_items(self, project: int, items: list[dict[str, Any]]) -> Any:
        return self.request("POST", f"/api/projects/{project}/items", json=items)

    def annotations(self, project: int, **params: Any) -> list[dict[str, Any]]:
        return list(self._pages(f"/api/projects/{project}/annotations", params))

    def create_annotations(self, project: int, annotations: list[dict[str, Any]]) -> Any:
        """Many annotations in one transaction."""
        return self.request("POST", f"/api/projects/{project}/annotations/bulk",
                            json=annotations)

    def import_file(self, project: int, format: str, path: str | Path, *,
                    dataset: str | None = None, options: dict[str, Any] | None = None) -> Any:
        """Import a labels file, or a zip of a folder layout (as `labelport import`); all or
        nothing."""
        form: dict[str, Any] = {"format": format}
        if dataset is not None:
            form["dataset"] = dataset
        if options:
            form["options"] = json.dumps(options)
        with Path(path).open("rb") as f:
            return self.request("POST", f"/api/projects/{project}/import", data=form,
                                files={"file": (Path(path).name, f)})

    # exports -----------------------------------------------------------------------------

    def create_export(self, project: int, format: str, **options: Any) -> Export:
        """Start an export job with the CLI's options (``selection={...}``,
        ``split="train=0.8,val=0.2"``, ``media="copy"``, ``package="zip"``, ...), and where
        the service should deliver it: ``deliver_to="s3://bucket/prefix/"``,
        ``webhook="https://..."`` (under what its operator allows; `Export.delivery` says
        what happened)."""
        data = self.request("POST", f"/api/projects/{project}/exports",
                            json={"format": format, **options})
        return Export(self, project, data)

    def create_schedule(self, project: int, name: str, format: str, *,
                        interval_seconds: int | None = None, cron: str | None = None,
                        delta: bool = False, **options: Any) -> dict[str, Any]:
        """Export the project every ``interval_seconds`` or on ``cron`` (UTC) with
        `create_export`'s options (``deliver_to`` and ``webhook`` included)."""
        body = {"name": name, "export": {"format": format, **options}, "delta": delta,
                "interval_seconds": interval_seconds, "cron": cron}
        created: dict[str, Any] = self.request(
            "POST", f"/api/projects/{project}/export-schedules", json=body)
        return created

    def export(self, project: int, export_id: int) -> Export:
        return Export(self, project, self.request(
            "GET", f"/api/projects/{project}/exports/{export_id}"))

    def exports(self, project: int) -> list[Export]:
        return [Export(self, project, data)
                for data in self._pages(f"/api/projects/{project}/exports")]

    def _pages(self, path: str, params: dict[str, Any] | None = None) -> Any:
        url: str | None = path
        query = dict(params or {})
        while url is not None:
            page = self.request("GET", url, params=query)
            if not isinstance(page, dict) or "results" not in page:
                yield from page
                return
            yield from page["results"]
            url, query = page["next"], {}


class Export:
    """One export job; `refresh` reads its state again (`wait` does it until finished)."""

    def __init__(self, client: Client, project: int, data: dict[str, Any]) -> None:
        self.client, self.project, self.data = client, project, data

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def status(self) -> str:
        return str(self.data["status"])

    @property
    def error(self) -> str | None:
        return self.data.get("error")

    @property
    def delivery(self) -> dict[str, Any] | None:
        """What delivering to ``deliver_to`` and calling ``webhook`` did (refresh to see it
        progress): per part its status, attempts and last error."""
        return self.data.get("delivery")

    def refresh(self) -> Export:
        self.data = self.client.request("GET", self._path)
        return self

    def is_completed(self) -> bool:
        return self.status == "completed"

    def is_failed(self) -> bool:
        return self.status == "failed"

    def is_in_progress(self) -> bool:
        return self.status in ("queued", "running")

    def wait(self, *, progress: bool = False, timeout: float | None = None,
             interval: float = 0.5) -> Export:
        """Poll until the export finishes (completed, failed or cancelled); ``progress``
        prints items done of total on stderr. A `TimeoutError` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.refresh()
            if progress:
                done, total = self.data["progress"]["done"], self.data["progress"]["total"]
                print(f"\rexport {self.id}: {self.status} {done}/{total or '?'}", end="",
                      file=sys.stderr, flush=True)
            if self.status in _FINISHED:
                if progress:
                    print(file=sys.stderr)
                return self
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"export {self.id} still {self.status} after {timeout}s")
            time.sleep(interval)

    def download(self, path: str | Path) -> Path:
        """Save the archive at ``path`` (a folder: under the export's file name)."""
        target = Path(path)
        if target.is_dir():
            artifact = self.data.get("artifact") or {}
            target = target / (artifact.get("name") or f"export-{self.id}.zip")
        with self.client.http.stream("GET", f"{self._path}/download") as response:
            if response.status_code >= 400:
                response.read()
                _raise_for_error(response)
            partial = target.with_name(f".{target.name}.partial")
            with partial.open("wb") as f:
                for chunk in response.iter_bytes(1 << 20):
                    f.write(chunk)
            partial.replace(target)
        return target

    def cancel(self) -> None:
        """Cancel while queued or running; remove once finished and delivered (an `ApiError`
        409 while its copy to ``deliver_to`` or its webhook call is still to be made)."""
        self.client.request("DELETE", self._path)

    @property
    def _path(self) -> str:
        return f"/api/projects/{self.project}/exports/{self.id}"


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        code, message = "error", response.text
    raise ApiError(response.status_code, code, message)
