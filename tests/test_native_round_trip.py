"""The native format through a real store, on SQLite and PostgreSQL: export -> import into a
new project -> export gives the same files (only the project's own name differs)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from labelport.domain.schema import LabelSchema
from labelport.export.run import run_export
from labelport.formats.registry import get_format
from labelport.sample import build_sample
from labelport.store import Store


def _without_project_name(path: Path) -> list[bytes]:
    header, *items = path.read_bytes().splitlines()
    if header.startswith(b'{"datasets"') and header.endswith(b"}"):  # JSON Lines header
        document = orjson.loads(header)
        document["project"].pop("name")
        header = orjson.dumps(document)
    else:
        header = header.replace(b'"name":"original"', b"").replace(b'"name":"copy"', b"")
    return [header, *items]


@pytest.mark.parametrize("jsonl", [False, True], ids=["json", "jsonl"])
def test_native_export_import_export_gives_the_same_files(store: Store, tmp_path: Path,
                                                          jsonl: bool) -> None:
    native = get_format("labelport")
    assert native.reader is not None
    sample = build_sample(tmp_path / "media")
    store.create_project("original", LabelSchema(), description=sample.project.description)
    store.import_source("original", sample)
    first = run_export(store.source("original"), native, tmp_path / "first",
                       options={"jsonl": jsonl})
    store.create_project("copy", LabelSchema(), description=sample.project.description)
    store.import_source("copy", native.reader(first.path, {"images": None}))
    second = run_export(store.source("copy"), native, tmp_path / "second",
                        options={"jsonl": jsonl})
    [name] = [p.name for p in first.path.iterdir() if p.name.startswith("project.")]
    assert _without_project_name(first.path / name) == _without_project_name(second.path / name)
    assert len(_without_project_name(first.path / name)) == len(sample) + 1 + (0 if jsonl else 1)
    assert first.counts == second.counts
