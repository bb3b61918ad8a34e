"""Parquet / Hugging Face: pure conversions from tables, goldens for the sample project read back
with pyarrow (never compared as bytes), round trips, Hugging Face ``datasets`` loading both
layouts offline, streaming in row groups, and errors that name the file and the row.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_parquet.py`` and read the diff
before committing it."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelport.domain.geometry import (
    Box,
    Keypoint,
    Keypoints,
    NoGeometry,
    Polygon,
    PolygonPart,
    Polyline,
    RotatedBox,
    Visibility,
)
from labelport.domain.masks import box_to_rle
from labelport.domain.model import DEFAULT_LABELSET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.media import MediaMode, PathMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats._shared.hf_card import card_features
from labelport.formats.parquet import (
    METADATA_FILE,
    SPEC,
    hf_features,
    object_xywh_area,
    split_file,
    split_of,
)
from labelport.formats.registry import get_format
from labelport.sample import FIELD, SCHEMA

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "parquet"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
NAMES = [c.name for c in SCHEMA.classes]


# --- pure conversions ---------------------------------------------------------------------------


def test_split_file_names_follow_the_hub() -> None:
    assert split_file("train") == "data/train-00000-of-00001.parquet"
    assert split_of(Path("data/val-00000-of-00001.parquet")) == "val"
    assert split_of(Path("my-test-00003-of-00010.parquet")) == "my-test"
    assert split_of(Path("test.parquet")) == "test"


DONUT = Polygon(parts=(PolygonPart(outer=(0, 0, 10, 0, 10, 10, 0, 10),
                                   holes=((2, 2, 4, 2, 4, 4, 2, 4),)),))


@pytest.mark.parametrize(("geometry", "expected"), [
    (Box(x=1, y=2, w=3, h=4), ([1.0, 2.0, 3.0, 4.0], 12.0)),
    (DONUT, ([0.0, 0.0, 10.0, 10.0], 96.0)),
    (RotatedBox(cx=5, cy=5, w=4, h=2, angle_deg=90), ([4.0, 3.0, 2.0, 4.0], 8.0)),
    (Polyline(points=(0, 0, 4, 3)), ([0.0, 0.0, 4.0, 3.0], 0.0)),
    (Keypoints(points=(Keypoint(x=1, y=1, v=Visibility.VISIBLE),
                       Keypoint(x=0, y=0, v=Visibility.NOT_LABELED),
                       Keypoint(x=3, y=5, v=Visibility.OCCLUDED))), ([1.0, 1.0, 2.0, 4.0], 0.0)),
    (box_to_rle(Box(x=2, y=1, w=3, h=2), height=6, width=8), ([2.0, 1.0, 3.0, 2.0], 6.0)),
    (Keypoints(points=(Keypoint(x=0, y=0, v=Visibility.NOT_LABELED),)), None),
])
def test_object_xywh_area(geometry: Any, expected: Any) -> None:
    result = object_xywh_area(geometry)
    if expected is None:
        assert result is None
        return
    assert result is not None
    assert result[0] == pytest.approx(expected[0])
    assert result[1] == pytest.approx(expected[1])


def test_features_carry_the_class_names_in_schema_order() -> None:
    features = hf_features(SCHEMA)
    assert features["image"] == {"_type": "Image"}
    objects = features["objects"]
    assert objects["_type"] == "Sequence"
    assert objects["feature"]["category"] == {"names": NAMES, "_type": "ClassLabel"}
    assert objects["feature"]["bbox"] == {"feature": {"dtype": "float64", "_type": "Value"},
                                          "_type": "Sequence"}
    card = {f["name"]: f for f in card_features(features)}
    assert card["image"] == {"name": "image", "dtype": "image"}
    category = next(f for f in card["objects"]["sequence"] if f["name"] == "category")
    assert category["dtype"] == {"class_label": {"names": dict(enumerate(NAMES))}}


# --- exports of the sample project --------------------------------------------------------------


def _ground_truth(source: MemorySource) -> ExportSource:
    return restrict_labelsets(source, [DEFAULT_LABELSET])


def _with_splits(source: MemorySource) -> MemorySource:
    """The sample with its field dataset in ``val``: two files, object ids from 1 in each."""
    return replace(source, items=tuple(
        replace(r, split="val" if r.item.dataset == FIELD else "train") for r in source.items))


def _rows(file: Path) -> list[dict[str, Any]]:
    """The rows as pyarrow reads them, JSON columns decoded so the goldens read well."""
    rows = pq.read_table(file).to_pylist()
    for row in rows:
        for column in ("metadata", "labelport"):
            row[column] = json.loads(row[column])
        objects = row["objects"]
        for column in ("geometry", "attributes", "extras"):
            objects[column] = [json.loads(v) for v in objects[column]]
    return rows


def _type(arrow_type: pa.DataType) -> Any:
    """An Arrow type as plain values, independent of pyarrow's naming of list items."""
    if pa.types.is_struct(arrow_type):
        return {f.name: _type(f.type) for f in arrow_type}
    if pa.types.is_list(arrow_type):
        return [_type(arrow_type.value_type)]
    return str(arrow_type)


def _check_golden(lines: list[Any], golden: Path) -> None:
    """One JSON value per line, compared as values."""
    text = "".join(orjson.dumps(line, option=orjson.OPT_SORT_KEYS).decode() + "\n"
                   for line in lines)
    if REGEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    wanted = [json.loads(line) for line in golden.read_text(encoding="utf-8").splitlines()]
    assert json.loads(json.dumps(lines)) == wanted, f"differs from {golden}"


def test_golden_parquet_with_splits(sample_source: MemorySource, tmp_path: Path) -> None:
    result = run_export(_ground_truth(_with_splits(sample_source)), SPEC, tmp_path / "out")
    files = sorted(p.relative_to(result.path).as_posix() for p in result.path.rglob("*.parquet"))
    assert files == ["data/train-00000-of-00001.parquet", "data/val-00000-of-00001.parquet"]
    for split in ("train", "val"):
        file = result.path / split_file(split)
        schema = pq.read_schema(file)
        metadata = schema.metadata or {}
        hf = json.loads(metadata[b"huggingface"])
        assert hf == {"info": {"features": hf_features(SCHEMA)}}
        own = json.loads(metadata[b"labelport"])
        assert (own["project"], own["schema"]["classes"][0]["name"]) == ("labelport sample", "car")
        rows = _rows(file)
        _check_golden([{f.name: _type(f.type) for f in schema}, *rows],
                      GOLDEN / f"{split}.jsonl")
        assert b"/tmp" not in file.read_bytes()
    train = _rows(result.path / split_file("train"))
    street = train[0]
    assert street["image"] == {"bytes": None, "path": "images/train/street_001.png"}
    assert (street["dataset"], street["width"], street["height"], street["status"]) == (
        "train-pool", 640, 360, "reviewed")
    assert street["metadata"] == {"camera": "cam-train-pool", "exposure_ms": 8.5}
    objects = street["objects"]
    assert objects["id"] == [1, 2, 3]
    assert [NAMES[c] for c in objects["category"]] == ["car", "traffic sign, temporary",
                                                       'lane "dashed"']
    assert objects["bbox"][0] == [100.0, 200.0, 160.0, 90.0]
    assert objects["kind"] == ["box", "rotated_box", "polyline"]
    assert objects["geometry"][1] == {"kind": "rotated_box", "cx": 480, "cy": 120, "w": 60,
                                      "h": 40, "angle_deg": 30}
    assert objects["attributes"][0]["plate"] == "LP-2024"
    assert objects["extras"][0]["tags"] == ["parked"]
    val = _rows(result.path / split_file("val"))
    assert val[0]["labelport"]["image_labels"][0]["label"] == "blurry"
    assert [r["path"] for r in val] == [r.item.path for r in sample_source.records()
                                        if r.item.dataset == FIELD]
    empty = next(r for r in train + val if not r["objects"]["id"])
    assert empty["objects"]["bbox"] == []
    assert result.report.counts["converted: none (image-level label) to image_labels"] == 1


def test_golden_imagefolder(sample_source: MemorySource, tmp_path: Path) -> None:
    result = run_export(_ground_truth(_with_splits(sample_source)), SPEC, tmp_path / "out",
                        media=MediaMode.COPY, options={"layout": "imagefolder"})
    names = sorted(p.relative_to(result.path).as_posix() for p in result.path.rglob("*")
                   if p.is_file())
    assert "train/metadata.jsonl" in names and "val/metadata.jsonl" in names
    assert "train/street_001.png" in names and "README.md" in names
    for split in ("train", "val"):
        lines = [json.loads(line) for line in
                 (result.path / split / "metadata.jsonl").read_text(encoding="utf-8").splitlines()]
        for line in lines:
            assert (result.path / split / line["file_name"]).is_file()
        _check_golden(lines, GOLDEN / "imagefolder" / f"{split}.jsonl")


def test_row_groups_bound_memory(tmp_path: Path) -> None:
    """Rows reach the file ``row_group_size`` at a time; progress is reported."""
    items = tuple(ItemRecord(item=Item(dataset="d", path=f"{i:03}.png", width=10, height=10),
                             annotations=(Annotation(label="car", geometry=Box(x=i % 9, y=0,
                                                                              w=1, h=1)),))
                  for i in range(7))
    source = MemorySource(project=ProjectInfo(name="p"), schema=SCHEMA, items=items)
    done: list[int] = []
    result = run_export(source, SPEC, tmp_path / "out", options={"row_group_size": 3},
                        progress=done.append)
    file = pq.ParquetFile(result.path / split_file("train"))
    assert [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)] == [3, 3, 1]
    assert done[-1] == 7
    assert file.read().column("objects").to_pylist()[6]["bbox"] == [[6.0, 0.0, 1.0, 1.0]]


def test_an_empty_project_has_its_features(tmp_path: Path) -> None:
    empty = MemorySource(project=ProjectInfo(name="empty"), schema=SCHEMA)
    result = run_export(empty, SPEC, tmp_path / "out")
    table = pq.read_table(result.path / split_file("train"))
    assert table.num_rows == 0
    assert b"huggingface" in (table.schema.metadata or {})


def test_out_of_image_geometry_is_clipped_and_counted(tmp_path: Path) -> None:
    record = ItemRecord(item=Item(dataset="d", path="a.png", width=10, height=10),
                        annotations=(Annotation(label="car", geometry=Box(x=8, y=8, w=5, h=5)),))
    source = MemorySource(project=ProjectInfo(name="p"), schema=SCHEMA, items=(record,))
    result = run_export(source, SPEC, tmp_path / "out")
    objects = pq.read_table(result.path / split_file("train")).column("objects").to_pylist()[0]
    assert objects["bbox"] == [[8.0, 8.0, 2.0, 2.0]]
    assert result.report.counts["clipped to the image: box"] == 1


# --- round trips --------------------------------------------------------------------------------


def _same_records(read: ExportSource, source: MemorySource) -> None:
    originals = {r.item.key: r for r in source.records()}
    assert sorted(originals) == sorted(r.item.key for r in read.records())
    for back in read.records():
        original = originals[back.item.key]
        assert back.split == original.split
        assert back.tasks == original.tasks
        assert back.item == replace(original.item, media_uri=back.item.media_uri)

        def order(a: Annotation) -> bool:
            return isinstance(a.geometry, NoGeometry)

        assert sorted(back.annotations, key=order) == sorted(original.annotations, key=order)


def test_round_trip_keeps_every_record(sample_source: MemorySource, tmp_path: Path) -> None:
    """Every labelset, task, geometry kind, attribute and extra comes back equal."""
    source = _with_splits(sample_source)
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY)
    read = SPEC.reader(result.path, {"images": None})  # type: ignore[misc]
    assert read.schema == SCHEMA
    assert read.project.name == "labelport sample"
    assert [d.name for d in read.datasets] == ["train-pool", "field"]
    assert [ls.name for ls in read.labelsets] == ["ground-truth", "predictions"]
    assert len(read) == len(source)
    _same_records(read, source)
    for back in read.records():
        assert back.item.media_uri is not None
        assert Path(back.item.media_uri).is_file()


def test_imagefolder_round_trip(sample_source: MemorySource, tmp_path: Path) -> None:
    source = _with_splits(sample_source)
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY,
                        options={"layout": "imagefolder"})
    read = get_format("parquet").reader(result.path, {})  # type: ignore[misc]
    assert read.schema == SCHEMA
    _same_records(read, source)


def test_embedded_images_make_a_self_contained_file(sample_source: MemorySource,
                                                    tmp_path: Path) -> None:
    result = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out",
                        media=MediaMode.COPY, options={"embed_images": True})
    assert not (result.path / "images").exists()
    rows = pq.read_table(result.path / split_file("train")).to_pylist()
    first = next(r for r in sample_source.records())
    assert rows[0]["image"]["path"] == first.item.file_name
    assert rows[0]["image"]["bytes"] == Path(first.item.media_uri or "").read_bytes()
    read = SPEC.reader(result.path, {})  # type: ignore[misc]
    assert [r.item.path for r in read.records()] == [r.item.path for r in
                                                      sample_source.records()]


@pytest.mark.parametrize("options", [{"layout": "imagefolder"}, {"embed_images": True}])
def test_layouts_that_need_images_refuse_an_export_without_media(
        sample_source: MemorySource, tmp_path: Path, options: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedError, match="needs the images.*--media copy"):
        run_export(sample_source, SPEC, tmp_path / "out", options=options)
    assert not (tmp_path / "out").exists()


def test_reads_a_third_party_file(tmp_path: Path) -> None:
    """A hub-style file (image, sizes, objects with bbox and category only; class names in the
    ``huggingface`` metadata) reads with its names; a file without names gets the numbers."""
    features = {"objects": {"feature": {"category": {"names": ["cat", "dog"],
                                                     "_type": "ClassLabel"}},
                            "_type": "Sequence"}}
    table = pa.table({
        "image": [{"bytes": None, "path": "a.jpg"}],
        "width": [20], "height": [10],
        "objects": [{"bbox": [[1.0, 2.0, 3.0, 4.0]], "category": [1]}],
    }).replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    named = tmp_path / "named" / "train-00000-of-00001.parquet"
    named.parent.mkdir()
    pq.write_table(table, named)
    read = SPEC.reader(named, {})  # type: ignore[misc]
    assert [c.name for c in read.schema.classes] == ["cat", "dog"]
    (record,) = list(read.records())
    assert (record.split, record.item.path, record.item.dataset) == ("train", "a.jpg", "default")
    assert record.annotations[0].label == "dog"
    assert record.annotations[0].geometry == Box(x=1, y=2, w=3, h=4)
    bare = tmp_path / "bare.parquet"
    pq.write_table(table.replace_schema_metadata(None), bare)
    read = SPEC.reader(bare, {})  # type: ignore[misc]
    assert [r.annotations[0].label for r in read.records()] == ["1"]


# --- Hugging Face datasets ----------------------------------------------------------------------


def test_hugging_face_loads_the_parquet_export(offline_datasets: Any, sample_source: MemorySource,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source = _ground_truth(_with_splits(sample_source))
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY)
    monkeypatch.chdir(result.path)  # image paths are relative to the export folder
    files = {s: str(result.path / split_file(s)) for s in ("train", "val")}
    loaded = offline_datasets.load_dataset("parquet", data_files=files,
                                           cache_dir=str(tmp_path / "cache"))
    train = loaded["train"]
    category = train.features["objects"]["category"]
    assert category.feature.names == NAMES
    records = [r for r in source.records() if r.split == "train"]
    assert train.num_rows == len(records)
    assert loaded["val"].num_rows == len(list(source.records())) - len(records)
    assert train[0]["objects"]["bbox"][0] == [100.0, 200.0, 160.0, 90.0]
    assert category.feature.int2str(train[0]["objects"]["category"]) == [
        "car", "traffic sign, temporary", 'lane "dashed"']
    assert train["path"] == [r.item.path for r in records]
    assert train[0]["image"].size == (640, 360)
    # the hub layout: the folder alone, splits from the file names
    assert set(offline_datasets.load_dataset(str(result.path),
                                             cache_dir=str(tmp_path / "cache2"))) == {"train",
                                                                                      "val"}


def test_hugging_face_decodes_embedded_images(offline_datasets: Any,
                                              sample_source: MemorySource,
                                              tmp_path: Path) -> None:
    result = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out",
                        media=MediaMode.COPY, options={"embed_images": True})
    loaded = offline_datasets.load_dataset(
        "parquet", data_files=str(result.path / split_file("train")),
        cache_dir=str(tmp_path / "cache"))["train"]
    for row, record in zip(loaded, sample_source.records(), strict=True):
        assert row["image"].size == (record.item.width, record.item.height)


def test_hugging_face_loads_the_imagefolder_export(offline_datasets: Any,
                                                   sample_source: MemorySource,
                                                   tmp_path: Path) -> None:
    source = _ground_truth(sample_source)
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY,
                        options={"layout": "imagefolder"})
    by_dir = offline_datasets.load_dataset("imagefolder", data_dir=str(result.path),
                                           cache_dir=str(tmp_path / "cache"))["train"]
    records = list(source.records())
    assert by_dir.num_rows == len(records)
    by_path = {row["path"]: row for row in by_dir}
    street = by_path["street_001.png"]
    assert street["image"].size == (640, 360)
    assert street["objects"]["bbox"][0] == [100.0, 200.0, 160.0, 90.0]
    assert street["objects"]["category"] == [0, 2, 3]
    # the folder with its dataset card: class names as a ClassLabel
    by_card = offline_datasets.load_dataset(str(result.path),
                                            cache_dir=str(tmp_path / "cache2"))["train"]
    assert by_card.features["objects"]["category"].feature.names == NAMES


def test_hugging_face_loads_an_imagefolder_export_without_scores(
        offline_datasets: Any, sample_source: MemorySource, tmp_path: Path) -> None:
    """No prediction, so no score: no ``"score": [null, ...]`` for pyarrow's JSON reader to
    fail on (``datasets`` 5.2, pyarrow 26); rows with a score keep it."""
    records = tuple(replace(r, annotations=tuple(replace(a, score=None) for a in r.annotations))
                    for r in _ground_truth(sample_source).records())
    source = MemorySource(project=sample_source.project, schema=sample_source.schema,
                          items=records)
    result = run_export(source, SPEC, tmp_path / "out", media=MediaMode.COPY,
                        options={"layout": "imagefolder"})
    lines = (result.path / "train" / METADATA_FILE).read_text(encoding="utf-8").splitlines()
    assert not any("score" in orjson.loads(line)["objects"] for line in lines)
    for loaded in (offline_datasets.load_dataset("imagefolder", data_dir=str(result.path),
                                                 cache_dir=str(tmp_path / "cache"))["train"],
                   offline_datasets.load_dataset(str(result.path),
                                                 cache_dir=str(tmp_path / "cache2"))["train"]):
        assert loaded.num_rows == len(records)
    read = SPEC.reader(result.path, {})  # type: ignore[misc]
    scores = [a.score for r in read.records() for a in r.annotations]
    assert len(scores) == sum(len(r.annotations) for r in records) and not any(scores)


def test_hugging_face_opens_absolute_image_paths_from_any_folder(
        offline_datasets: Any, sample_source: MemorySource, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``datasets`` opens a relative image path from the working folder, never from the data
    file's: ``--paths absolute`` (or ``embed_images=true``) loads from anywhere."""
    result = run_export(_ground_truth(sample_source), SPEC, tmp_path / "out",
                        media=MediaMode.COPY, paths=PathMode.ABSOLUTE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = offline_datasets.load_dataset(
        "parquet", data_files=str(result.path / split_file("train")),
        cache_dir=str(tmp_path / "cache"))["train"]
    assert loaded[0]["image"].size == (640, 360)
    assert Path(loaded.cast_column("image", offline_datasets.Image(decode=False))[0]["image"][
        "path"]).is_relative_to(result.path)


# --- bad input ----------------------------------------------------------------------------------


def _export_rows(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    """A file with labelport's schema and metadata holding ``rows`` as given."""
    template = tmp_path / "template"
    record = ItemRecord(item=Item(dataset="d", path="a.png", width=10, height=10))
    run_export(MemorySource(project=ProjectInfo(name="p"), schema=SCHEMA, items=(record,)),
               SPEC, template)
    schema = pq.read_schema(template / split_file("train"))
    file = tmp_path / "bad" / split_file("train")
    file.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), file)
    return file


def _row(**objects: Any) -> dict[str, Any]:
    return {"image": {"bytes": None, "path": "images/train/a.png"}, "dataset": "d",
            "path": "a.png", "width": 10, "height": 10, "metadata": "{}", "labelport": "{}",
            "objects": {"category": [0], "bbox": [[0.0, 0.0, 1.0, 1.0]], **objects}}


@pytest.mark.parametrize(("row", "message"), [
    (_row(category=[42]), r"row 1: objects\[0\]\.category: 42 is not a class index"),
    (_row(category=[-1]), r"row 1: objects\[0\]\.category: expected a class index"),
    (_row(geometry=["{nope"]), r"row 1: objects\[0\]\.geometry: not valid JSON"),
    (_row(geometry=['{"kind": "box"}']), r"row 1: objects\[0\]: .*missing field 'x'"),
    (_row(bbox=[[1.0, 2.0]]), r"row 1: objects\[0\]: "),
    (_row(area=[1.0, 2.0]), r"row 1: objects\.area: expected a list as long as"),
    ({**_row(), "metadata": "[1]"}, r"row 1: column 'metadata': expected a JSON object"),
    ({**_row(), "labelport": '{"tasks": [{"status": "nope"}]}'},
     r"row 1: column 'labelport': .*nope"),
])
def test_bad_rows_name_the_file_and_row(tmp_path: Path, row: dict[str, Any],
                                        message: str) -> None:
    file = _export_rows(tmp_path, [_row(), row])
    read = SPEC.reader(file, {})  # type: ignore[misc]
    with pytest.raises(InputError, match=f"{file.name}: {message}".replace("row 1", "row 2")):
        list(read.records())


def test_not_parquet_and_missing_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "data" / "train-00000-of-00001.parquet"
    bad.parent.mkdir()
    bad.write_text("not parquet")
    with pytest.raises(InputError, match="train-00000-of-00001.parquet: not a readable Parquet"):
        SPEC.reader(tmp_path, {})  # type: ignore[misc]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"empty: no \*\.parquet file and no \*/metadata.jsonl"):
        SPEC.reader(empty, {})  # type: ignore[misc]
    with pytest.raises(InputError, match="missing: no such file or folder"):
        SPEC.reader(tmp_path / "missing", {})  # type: ignore[misc]


def test_bad_metadata_jsonl_names_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "metadata.jsonl").write_text('{"file_name": "a.png", "width": 1, "height": 1}\n'
                                           "{oops\n")
    with pytest.raises(InputError, match=r"metadata.jsonl:2: not valid JSON"):
        list(SPEC.reader(tmp_path, {}).records())  # type: ignore[misc]


def test_bad_options_are_refused(tmp_path: Path) -> None:
    source = MemorySource(project=ProjectInfo(name="p"), schema=SCHEMA)
    with pytest.raises(InputError, match="row_group_size must be at least 1"):
        run_export(source, SPEC, tmp_path / "out", options={"row_group_size": 0})
