"""``--paths absolute`` in every writer that names images in its annotation files (COCO
``file_name``, Darknet's lists, the Keras line, the CSV/TSV ``image_file`` column, VOC's
``<path>``): the reference lands in the file, the reader reads the export back as it reads the
relative one, and the readers that open images for their sizes honour EXIF orientation.
Relative output is covered byte for byte by each format's goldens."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import orjson
import pytest
from PIL import ExifTags, Image

from labelport.domain.geometry import Box, GeometryKind
from labelport.domain.model import DEFAULT_LABELSET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.media import MediaMode, PathMode, media_placer
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import Report, WriteContext
from labelport.formats.registry import get_format
from labelport.formats.yolo.keras import url_without_whitespace

CDN = "https://cdn.example.org/set%201"
WRITERS: list[tuple[str, dict[str, Any]]] = [
    ("coco", {}), ("coco", {"metadata": False}), ("yolo_darknet", {}), ("yolo_keras", {}),
    ("csv", {}), ("tsv", {}), ("voc", {}),
]


def _references(name: str, out: Path) -> list[str]:
    """The image paths an export's annotation files hold, in file order."""
    if name == "coco":
        return [image["file_name"] for file in sorted((out / "annotations").glob("*.json"))
                for image in orjson.loads(file.read_bytes())["images"]]
    if name == "yolo_darknet":
        return [line for file in sorted(out.glob("*.txt"))
                for line in file.read_text(encoding="utf-8").splitlines()]
    if name == "yolo_keras":
        lines = (out / "yolokeras.annotations.txt").read_text(encoding="utf-8").splitlines()
        return [line.split()[0] for line in lines]
    if name in ("csv", "tsv"):
        with (out / f"annotations.{name}").open(encoding="utf-8", newline="") as f:
            rows = csv.DictReader(f, delimiter="," if name == "csv" else "\t")
            return list(dict.fromkeys(row["image_file"] for row in rows))
    return [ElementTree.parse(file).findtext("path") or ""
            for file in sorted((out / "Annotations").rglob("*.xml"))]


def _read_back(name: str, out: Path, options: dict[str, Any] | None = None) -> list[Any]:
    """What the reader makes of an export, without the media URI (where the images are)."""
    reader = get_format(name).reader
    assert reader is not None
    return sorted(((r.item.dataset, r.item.path, r.item.width, r.item.height, r.split,
                    r.annotations) for r in reader(out, options or {}).records()),
                  key=lambda row: row[:2])


@pytest.mark.parametrize(("name", "options"), WRITERS)
@pytest.mark.parametrize("media", [MediaMode.NONE, MediaMode.COPY])
def test_absolute_paths_land_in_the_file_and_read_back(
        sample_source: MemorySource, tmp_path: Path, name: str, options: dict[str, Any],
        media: MediaMode) -> None:
    source = restrict_labelsets(sample_source, [DEFAULT_LABELSET])
    spec = get_format(name)
    relative = tmp_path / "relative"
    run_export(source, spec, relative, options=options, media=MediaMode.COPY)
    absolute = tmp_path / "absolute"
    run_export(source, spec, absolute, options=options, media=media, paths=PathMode.ABSOLUTE)

    references = _references(name, absolute)
    if media is MediaMode.NONE:  # where each source image is
        assert sorted(references) == sorted(str(Path(r.item.media_uri or "").absolute())
                                            for r in sample_source.records())
    else:  # the published copy
        assert len(references) == len(sample_source.items)
        assert all(Path(r).is_absolute() and Path(r).is_file()
                   and Path(r).is_relative_to(absolute) for r in references)
    expected = _read_back(name, relative)
    if name == "yolo_keras" and media is MediaMode.NONE:  # a source folder is no split
        expected = [(*row[:4], None, row[5]) for row in expected]
    found = _read_back(name, absolute)
    if name == "coco" and not options.get("metadata", True):
        # an absolute file_name says where the image is, not its folders inside its dataset
        # (no metadata says them either): compare by file name
        expected, found = ([(*row[:1], row[1].rsplit("/", 1)[-1], *row[2:]) for row in rows]
                           for rows in (expected, found))
    assert found == expected


def _url_reference(item: Item, target: Path, relative: str) -> str:
    return f"{CDN}/{target.name}"


def _export_with_urls(name: str, source: ExportSource, out: Path,
                      options: dict[str, Any] | None = None) -> Report:
    """Write with every image named by a URL, the images copied into the layout."""
    report = Report()
    ctx = WriteContext(report=report, place_media=media_placer(MediaMode.COPY, report),
                       media_reference=_url_reference)
    out.mkdir()
    writer = get_format(name).writer
    assert writer is not None
    writer(source, out, get_format(name).resolve_options(options or {}), ctx)
    return report


@pytest.mark.parametrize(("name", "options"), [("coco", {"metadata": False}), ("voc", {}),
                                               ("csv", {"columns": "image_name,label,x_min,"
                                                        "y_min,x_max,y_max,image_width,"
                                                        "image_height,image_file"})])
def test_urls_land_in_the_file_and_become_the_media_uri(sample_source: MemorySource,
                                                        tmp_path: Path, name: str,
                                                        options: dict[str, Any]) -> None:
    """Without a local copy, a URL the file names is the item's media, fetched at export."""
    source = restrict_labelsets(sample_source, [DEFAULT_LABELSET])
    out = tmp_path / "out"
    _export_with_urls(name, source, out, options)
    references = _references(name, out)
    assert references and all(r.startswith(f"{CDN}/") for r in references)
    for folder in ("images", "JPEGImages"):  # no local copy to find
        if (out / folder).exists():
            (out / folder).rename(tmp_path / f"moved-{folder}")
    reader = get_format(name).reader
    assert reader is not None
    records = list(reader(out, {}).records())
    assert {r.item.media_uri for r in records} == set(references)
    if name == "coco":  # without metadata, the path is the file name the URL ends with
        assert {r.item.path for r in records} == {r.rsplit("/", 1)[1] for r in references}


@pytest.mark.parametrize("name", ["yolo_darknet", "yolo_keras"])
def test_url_lists_read_back_from_the_images_beside_them(sample_source: MemorySource,
                                                         tmp_path: Path, name: str) -> None:
    source = restrict_labelsets(sample_source, [DEFAULT_LABELSET])
    relative = tmp_path / "relative"
    run_export(source, get_format(name), relative, media=MediaMode.COPY)
    out = tmp_path / "out"
    _export_with_urls(name, source, out)
    assert all(r.startswith(f"{CDN}/") for r in _references(name, out))
    images = {"images": out / "images" / "train"} if name == "yolo_keras" else {}
    assert _read_back(name, out, images) == _read_back(name, relative)


# --- yolo_keras: whitespace in the first field --------------------------------------------------


def _one_box_source(*paths: tuple[str, str]) -> MemorySource:
    """Items ``(dataset, path)``, 40 x 30, one box each, with no media URI."""
    schema = LabelSchema(classes=(LabelClass(id=1, name="car", geometry=GeometryKind.BOX),))
    records = tuple(ItemRecord(item=Item(dataset=dataset, path=path, width=40, height=30),
                               annotations=(Annotation(label="car",
                                                       geometry=Box(x=1, y=2, w=10, h=5)),))
                    for dataset, path in paths)
    return MemorySource(project=ProjectInfo(name="p"), schema=schema, items=records)


def _write(name: str, source: ExportSource, out: Path,
           reference: Callable[[Item, Path, str], str]) -> Report:
    report = Report()
    writer = get_format(name).writer
    assert writer is not None
    out.mkdir(exist_ok=True)
    writer(source, out, get_format(name).resolve_options({}),
           WriteContext(report=report, media_reference=reference))
    return report


def test_keras_refuses_a_local_path_with_whitespace(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match=r"keras-yolo3 splits each line on whitespace"):
        _write("yolo_keras", _one_box_source(("default", "a.png")), tmp_path,
               lambda item, target, relative: f"/data/my images/{target.name}")


def test_keras_percent_encodes_whitespace_in_a_url(tmp_path: Path) -> None:
    report = _write("yolo_keras", _one_box_source(("default", "a.png")), tmp_path,
                    lambda item, target, relative: "https://h.org/my images/a\tb.png")
    line = (tmp_path / "yolokeras.annotations.txt").read_text(encoding="utf-8")
    assert line == "https://h.org/my%20images/a%09b.png 1,2,11,7,0\n"
    assert report.counts == {"converted: whitespace in an image URL percent-encoded": 1}


@pytest.mark.parametrize(("url", "expected"), [
    ("https://h.org/a.png", "https://h.org/a.png"),
    ("s3://b/a b.png", "s3://b/a%20b.png"),
    ("https://h.org/a\u3000b.png", "https://h.org/a%E3%80%80b.png"),
])
def test_url_without_whitespace(url: str, expected: str) -> None:
    assert url_without_whitespace(url) == expected


# --- yolo_darknet: lists naming images outside the export ----------------------------------------


def test_darknet_counts_images_listed_outside_the_export(tmp_path: Path) -> None:
    for name in ("a.png", "b.png"):
        Image.new("RGB", (40, 30)).save(tmp_path / name)
    report = _write("yolo_darknet", _one_box_source(("default", "a.png"), ("default", "b.png")),
                    tmp_path / "out", lambda item, target, relative: str(tmp_path / target.name))
    assert (tmp_path / "out" / "train.txt").read_text(encoding="utf-8") == (
        f"{tmp_path / 'a.png'}\n{tmp_path / 'b.png'}\n")
    assert report.counts["image path outside the export: Darknet looks for its labels "
                         "beside it"] == 2
    records = list(get_format("yolo_darknet").reader(tmp_path / "out", {}).records())  # type: ignore[misc]
    assert [(r.item.path, r.item.media_uri, len(r.annotations)) for r in records] == [
        ("a.png", str(tmp_path / "a.png"), 1), ("b.png", str(tmp_path / "b.png"), 1)]


def test_darknet_refuses_two_listed_images_sharing_one_label_file(tmp_path: Path) -> None:
    """Two sources named ``a.png``: their labels are ``a.txt`` and ``a__field.txt``, and the
    list names both by ``a.png``; pairing by stem would give the second the first's labels."""
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (40, 30)).save(tmp_path / folder / "a.png")
    _write("yolo_darknet", _one_box_source(("default", "a.png"), ("field", "a.png")),
           tmp_path / "out",
           lambda item, target, relative: str(tmp_path / ("x" if item.dataset == "default"
                                                          else "y") / "a.png"))
    with pytest.raises(InputError, match=r"train.txt:2: image .* would take the labels a.txt "
                                         r"of line 1"):
        get_format("yolo_darknet").reader(tmp_path / "out", {})  # type: ignore[misc]


def test_darknet_refuses_a_line_break_in_a_path(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match="a line break would split its line"):
        _write("yolo_darknet", _one_box_source(("default", "a.png")), tmp_path,
               lambda item, target, relative: "/data/a\nb.png")


# --- image sizes from headers, EXIF orientation applied ---------------------------------------


def _rotated_photo(path: Path) -> Path:
    """A JPEG stored 64 x 48 with EXIF orientation 6: shown (and annotated) 48 x 64."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    Image.new("RGB", (64, 48), (200, 10, 10)).save(path, "JPEG", exif=exif.tobytes())
    return path


def test_coco_reader_sizes_a_rotated_photo_upright(tmp_path: Path) -> None:
    _rotated_photo(tmp_path / "images" / "train" / "phone.jpg")
    data = {"images": [{"id": 1, "file_name": "phone.jpg"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                             "bbox": [1, 2, 40, 60]}],
            "categories": [{"id": 1, "name": "car"}]}
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_train.json").write_bytes(orjson.dumps(data))
    (record,) = get_format("coco").reader(tmp_path, {}).records()  # type: ignore[misc]
    assert (record.item.width, record.item.height) == (48, 64)


def test_tabular_reader_sizes_a_rotated_photo_upright(tmp_path: Path) -> None:
    _rotated_photo(tmp_path / "images" / "phone.jpg")
    (tmp_path / "annotations.csv").write_text(
        "image_name,label,x_min,y_min,x_max,y_max\r\nphone.jpg,car,1,2,41,62\r\n",
        encoding="utf-8")
    (record,) = get_format("csv").reader(tmp_path, {"normalized": False}).records()  # type: ignore[misc]
    assert (record.item.width, record.item.height) == (48, 64)
