"""Folders are kept (issue 12, point 2): an item's path inside its dataset (``a/frame_001.png``)
is written as is by every format that can carry a path, so ``a/frame_001.png`` and
``b/frame_001.png`` both survive under their own names and the export mirrors the user's image
tree; the same path in a second dataset is renamed, and the manifest lists each renaming."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tests.formats.ultralytics_labels import ultralytics_labels

from labelport.domain.geometry import Box, GeometryKind
from labelport.domain.model import Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import MemorySource
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats.registry import get_format

SCHEMA = LabelSchema(classes=(LabelClass(id=1, name="car", geometry=GeometryKind.BOX),))
_ITEMS = [("cams", "a/frame_001.png", 10.0), ("cams", "b/frame_001.png", 20.0),
          ("other", "a/frame_001.png", 30.0)]
RENAMED = {"dataset": "other", "path": "a/frame_001.png", "name": "a/frame_001__other.png"}
WRITTEN = ["a/frame_001.png", "b/frame_001.png", "a/frame_001__other.png"]

# format -> where the images land (below the export), the options to write it with
NESTING: dict[str, tuple[str, dict[str, Any]]] = {
    "coco": ("images/train", {}),
    "yolo": ("images/train", {}),
    "cvat": ("images/train", {}),
    "csv": ("images", {}),
    "tsv": ("images", {}),
    "voc": ("JPEGImages", {}),
    "kitti": ("train/image_2", {}),
    "labelstudio": ("images", {}),
    "yolo_darknet": ("obj_train_data", {}),
}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> MemorySource:
    """Three images: two of one dataset with the same file name in two folders, and the first
    one's path again in a second dataset; each with one box whose x tells them apart."""
    media = tmp_path_factory.mktemp("media")
    records = []
    for dataset, path, x in _ITEMS:
        image = media / dataset / path
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (int(x), 0, 0)).save(image)
        item = Item(dataset=dataset, path=path, width=64, height=48, media_uri=str(image))
        records.append(ItemRecord(item=item, annotations=(
            Annotation(label="car", geometry=Box(x=x, y=5, w=8, h=6)),)))
    return MemorySource(project=ProjectInfo(name="folders"), schema=SCHEMA, items=tuple(records))


def _read_back(name: str, folder: Path) -> dict[str, float]:
    """The item keys (dataset/path) labelport's reader gives, with the x of their one box."""
    spec = get_format(name)
    assert spec.reader is not None
    out = {}
    for record in spec.reader(folder, {}).records():
        (annotation,) = record.annotations
        assert isinstance(annotation.geometry, Box)
        out[record.item.key] = annotation.geometry.x
    return out


@pytest.mark.parametrize("name", NESTING)
def test_a_nesting_format_keeps_each_items_folders(name: str, source: MemorySource,
                                                   tmp_path: Path) -> None:
    images, options = NESTING[name]
    result = run_export(source, get_format(name), tmp_path / "out", options=options,
                        media=MediaMode.COPY)
    for written, (_, _, x) in zip(WRITTEN, _ITEMS, strict=True):
        with Image.open(result.path / images / written) as image:  # the right image, there
            assert image.getpixel((0, 0)) == (int(x), 0, 0)
    manifest = json.loads((result.path / "labelport-export.json").read_text(encoding="utf-8"))
    assert manifest["report"]["renamed"] == [RENAMED]
    found = _read_back(name, result.path)
    as_written = {f"default/{w}": x for w, (_, _, x) in zip(WRITTEN, _ITEMS, strict=True)}
    as_given = {f"{dataset}/{path}": x for dataset, path, x in _ITEMS}  # with the metadata
    assert found in (as_written, as_given)


def test_coco_file_name_is_the_path_inside_the_dataset(source: MemorySource,
                                                       tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    result = run_export(source, get_format("coco"), tmp_path / "out")
    coco = COCO(str(result.path / "annotations" / "instances_train.json"))
    assert [image["file_name"] for image in coco.dataset["images"]] == WRITTEN


def test_yolo_mirrors_the_tree_under_images_and_labels(source: MemorySource,
                                                       tmp_path: Path) -> None:
    result = run_export(source, get_format("yolo"), tmp_path / "out", media=MediaMode.COPY)
    labels = sorted(p.relative_to(result.path / "labels" / "train").as_posix()
                    for p in (result.path / "labels" / "train").rglob("*.txt"))
    assert labels == ["a/frame_001.txt", "a/frame_001__other.txt", "b/frame_001.txt"]


@pytest.mark.parametrize("name", ["yolo_keras", "labelme"])
def test_a_flat_format_lists_every_renaming(name: str, source: MemorySource,
                                            tmp_path: Path) -> None:
    """A layout that names images by file name alone: each item's written name is listed
    beside its dataset and path, so nothing is renamed silently."""
    result = run_export(source, get_format(name), tmp_path / "out", media=MediaMode.COPY)
    manifest = json.loads((result.path / "labelport-export.json").read_text(encoding="utf-8"))
    renamed = manifest["report"]["renamed"]
    assert [(r["dataset"], r["path"]) for r in renamed] == [(d, p) for d, p, _ in _ITEMS]
    assert len({r["name"] for r in renamed}) == 3  # three images, three names
    assert all("/" not in r["name"] for r in renamed)


def test_ultralytics_reads_the_nested_tree(source: MemorySource, tmp_path: Path) -> None:
    """Ultralytics' own dataset code (its side venv) finds every nested image with its labels."""
    result = run_export(source, get_format("yolo"), tmp_path / "out", media=MediaMode.COPY)
    found = ultralytics_labels(result.path, "detect")
    assert [(f["file"], f["cls"], round(f["boxes"][0][0], 3)) for f in found] == sorted(
        (w, [0], x) for w, (_, _, x) in zip(WRITTEN, _ITEMS, strict=True))
