"""``--export-type annotations|datasets|both`` (`labelport.export.export_type`): the images
under ``datasets/{dataset}/``, the format's files per dataset under ``annotations/{dataset}/``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labelport.domain.source import MemorySource
from labelport.errors import InputError
from labelport.export.export_type import ExportType
from labelport.export.manifest import MANIFEST_NAME
from labelport.export.request import ExportOptions
from labelport.export.run import run_export
from labelport.formats._shared.naming import safe_file_name
from labelport.formats.registry import all_formats, get_format
from labelport.sample import build_sample

WRITABLE = [s.name for s in all_formats() if s.writer is not None and not s.video]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    return build_sample(tmp_path_factory.mktemp("media"))


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _datasets(sample: MemorySource) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for record in sample.records():
        out.setdefault(record.item.dataset, []).append(record.item.path)
    return out


def test_datasets_holds_the_images_only(sample: MemorySource, tmp_path: Path) -> None:
    result = run_export(sample, get_format("coco"), tmp_path / "out",
                        export_type=ExportType.DATASETS)
    expected = sorted(f"datasets/{safe_file_name(d)}/{p}"
                      for d, paths in _datasets(sample).items() for p in paths)
    assert _files(tmp_path / "out") == sorted([*expected, MANIFEST_NAME])
    assert "sub/dir/walker.png" in "".join(expected)  # folders kept
    record = next(iter(sample.records()))
    assert record.item.media_uri is not None
    assert (tmp_path / "out" / "datasets" / safe_file_name(record.item.dataset) /
            record.item.path).read_bytes() == Path(record.item.media_uri).read_bytes()
    assert result.manifest["options"]["export_type"] == "datasets"
    assert result.manifest["options"]["media"] == "copy"
    assert result.manifest["counts"]["items"] == len(sample)


@pytest.mark.parametrize("name", WRITABLE)
def test_both_writes_each_dataset_beside_its_images(sample: MemorySource, tmp_path: Path,
                                                    name: str) -> None:
    run_export(sample, get_format(name), tmp_path / "out", export_type=ExportType.BOTH)
    datasets = _datasets(sample)
    assert sorted(p.name for p in (tmp_path / "out" / "annotations").iterdir()) == sorted(
        safe_file_name(d) for d in datasets)
    assert sorted(p.name for p in (tmp_path / "out" / "datasets").iterdir()) == sorted(
        safe_file_name(d) for d in datasets)
    for dataset in datasets:
        assert _files(tmp_path / "out" / "annotations" / safe_file_name(dataset)), dataset


@pytest.mark.parametrize("name", ["coco", "labelstudio", "cvat"])
def test_each_dataset_reads_back_as_that_dataset_and_verifies(sample: MemorySource,
                                                              tmp_path: Path, name: str) -> None:
    spec = get_format(name)
    assert spec.reader is not None
    result = run_export(sample, spec, tmp_path / "out", export_type=ExportType.BOTH,
                        verify=True)
    assert result.manifest["verification"]["items"] == len(sample)
    for dataset, paths in _datasets(sample).items():
        back = spec.reader(tmp_path / "out" / "annotations" / safe_file_name(dataset), {})
        assert sorted(Path(r.item.path).name for r in back.records()) == sorted(
            Path(p).name for p in paths)


def test_datasets_cannot_be_verified(sample: MemorySource, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="has none"):
        run_export(sample, get_format("coco"), tmp_path / "out",
                   export_type=ExportType.DATASETS, verify=True)


def test_the_option_in_the_service_json_and_the_cli(sample: MemorySource,
                                                    tmp_path: Path) -> None:
    assert ExportOptions.from_json({"format": "coco", "export_type": "both"}).export_type \
        is ExportType.BOTH
    with pytest.raises(InputError, match="export options"):
        ExportOptions.from_json({"format": "coco", "export_type": "images"})
    from typer.testing import CliRunner

    from labelport.cli import app
    from labelport.store.db import open_store

    store = open_store(str(tmp_path / "s.db"))
    store.create_project("p", sample.schema)
    store.import_source("p", sample)
    result = CliRunner().invoke(app, ["export", "p", "voc", "--export-path",
                                      str(tmp_path / "v"), "--export-type", "both",
                                      "--db", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "v" / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["options"]["export_type"] == "both"
    assert (tmp_path / "v" / "annotations").is_dir() and (tmp_path / "v" / "datasets").is_dir()


def test_a_format_with_dataset_folders_of_its_own_writes_both_as_itself(
        sample: MemorySource, tmp_path: Path) -> None:
    spec = get_format("innotescus")
    assert spec.dataset_folders and spec.reader is not None
    run_export(sample, spec, tmp_path / "out", export_type=ExportType.BOTH, verify=True)
    for dataset in _datasets(sample):
        folder = tmp_path / "out" / "annotations" / safe_file_name(dataset)
        assert "dataset_items.json" in _files(folder)  # not annotations/x/annotations/x/
    items = json.loads((tmp_path / "out" / "annotations" / "field" /
                        "dataset_items.json").read_text(encoding="utf-8"))
    assert items and all((tmp_path / "out" / i["url"]).is_file() for i in items)
