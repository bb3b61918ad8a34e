"""Classification layouts: ``imagefolder`` and ``yolo`` with ``task=classify`` (class folders),
``classification_csv`` and ``hf_imagefolder``. Where labels come from (a table), goldens for the
sample project read back, round trips, refusals, bad input refused with labelport's errors, and
the readers others use: torchvision's ImageFolder rules (re-implemented from its source below;
torchvision is not installed here), Datumaro's ``imagenet`` and Hugging Face ``datasets``.

Regenerate the goldens with
``LABELPORT_REGEN_GOLDEN=1 .venv/bin/pytest tests/formats/test_classification.py`` and read the
diff before committing it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.side_python import DATUMARO, ULTRALYTICS, run_side

from labelport.domain.geometry import Box, GeometryKind, NoGeometry
from labelport.domain.model import (
    DEFAULT_LABELSET,
    Annotation,
    Item,
    ItemRecord,
    ProjectInfo,
    Task,
)
from labelport.domain.schema import (
    Classification,
    ClassificationDef,
    ClassificationKind,
    LabelClass,
    LabelSchema,
)
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, UnsupportedError
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats._shared.image_files import IMAGE_SUFFIXES
from labelport.formats._shared.image_labels import image_labels, label_source
from labelport.formats.base import FormatSpec, WriteContext
from labelport.formats.registry import get_format

GOLDEN = Path(__file__).parent.parent / "data" / "golden" / "classification"
REGEN = os.environ.get("LABELPORT_REGEN_GOLDEN") == "1"
MANIFEST = "labelport-export.json"

# The sample's labels, by image file name (what every reader must give back).
WEATHER = {"street_001.png": ("sunny",), "yard_002.jpg": ("fog",),
           "crossing_005.png": ("rain",), "field_001.jpg": ("fog",),
           "field_002.png": ("sunny",)}
HAZARDS = {"street_001.png": ("glare", "roadworks"), "crossing_005.png": ("wet road",)}
BLURRY = {"field_001.jpg": ("blurry",)}

# (golden folder, format, options, expected labels)
CASES = [
    ("imagefolder", "imagefolder", {}, BLURRY),
    ("imagefolder_weather", "imagefolder", {"classification": "weather"}, WEATHER),
    ("yolo_classify", "yolo", {"task": "classify", "classification": "weather"}, WEATHER),
    ("csv", "classification_csv", {}, BLURRY),
    ("csv_weather", "classification_csv", {"classification": "weather"}, WEATHER),
    ("csv_hazards", "classification_csv", {"classification": "hazards"}, HAZARDS),
    ("hf_weather", "hf_imagefolder", {"classification": "weather"}, WEATHER),
    ("hf_hazards", "hf_imagefolder", {"classification": "hazards"}, HAZARDS),
]
PARAMS = [pytest.param(*case, id=case[0]) for case in CASES]


def _ground_truth(sample: MemorySource) -> ExportSource:
    return restrict_labelsets(sample, [DEFAULT_LABELSET])


def _labels_read(source: ExportSource, options: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """File name -> labels, from image-level annotations or the classification option."""
    found: dict[str, tuple[str, ...]] = {}
    for record in source.records():
        if options.get("classification"):
            labels = tuple(v for t in record.tasks for c in t.classifications
                           if c.name == options["classification"] for v in c.values)
        else:
            labels = tuple(a.label for a in record.annotations)
        if labels:
            found[record.item.file_name] = labels
    return found


def _export(sample: MemorySource, name: str, options: dict[str, Any], out: Path) -> Path:
    return run_export(_ground_truth(sample), get_format(name), out, options=options,
                      media=MediaMode.COPY).path


def _layout(root: Path) -> str:
    """Every file of an export but the manifest, one relative path a line."""
    return "".join(f"{p.relative_to(root).as_posix()}\n" for p in sorted(root.rglob("*"))
                   if p.is_file() and p.name != MANIFEST)


def _texts(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES and p.name != MANIFEST}


# --- where labels come from --------------------------------------------------------------------


SCHEMA = LabelSchema(
    classes=(LabelClass(id=1, name="car"), LabelClass(id=2, name="night",
                                                      geometry=GeometryKind.NONE)),
    classifications=(
        ClassificationDef(name="scene", kind=ClassificationKind.RADIO, options=("city", "road"),
                          children=(ClassificationDef(name="lanes", kind=ClassificationKind.SELECT,
                                                      options=("1", "2"), when="road"),)),
        ClassificationDef(name="tags", kind=ClassificationKind.CHECKBOX, options=("a", "b")),
        ClassificationDef(name="notes", kind=ClassificationKind.TEXT),
    ))
RECORD = ItemRecord(
    item=Item(dataset="d", path="a.jpg", width=4, height=4),
    annotations=(Annotation(label="car", geometry=Box(x=0, y=0, w=1, h=1)),
                 Annotation(label="night", geometry=NoGeometry(), score=0.5)),
    tasks=(Task(classifications=(
        Classification(name="scene", values=("road",),
                       children=(Classification(name="lanes", values=("2",)),)),
        Classification(name="tags", values=("b", "zzz")),
    )),))


@pytest.mark.parametrize(("classification", "classes", "multi", "labels", "counted"), [
    ("", ("night",), False, ("night",), {"not written: box (classification carries image "
                                         "labels)": 1, "not written: score": 1,
                                         "not written: image classification": 2}),
    ("scene", ("city", "road"), False, ("road",), {"not written: image classification": 1}),
    ("lanes", ("1", "2"), False, ("2",), {"not written: image classification": 1}),
    ("tags", ("a", "b"), True, ("b",), {"not written: value outside classification 'tags''s "
                                        "options": 1}),
])
def test_labels_come_from_image_level_classes_or_a_classification(
        classification: str, classes: tuple[str, ...], multi: bool, labels: tuple[str, ...],
        counted: dict[str, int]) -> None:
    source = label_source(SCHEMA, {"classification": classification})
    assert (source.classes, source.multi_label) == (classes, multi)
    ctx = WriteContext()
    assert image_labels(RECORD, source, ctx) == labels
    for kind, n in counted.items():
        assert ctx.report.counts[kind] == n, dict(ctx.report.counts)


@pytest.mark.parametrize(("classification", "message"), [
    ("notes", "free text"), ("weather", "has no classification 'weather'")])
def test_a_text_or_unknown_classification_is_refused(classification: str, message: str) -> None:
    with pytest.raises(UnsupportedError, match=message):
        label_source(SCHEMA, {"classification": classification})


# --- goldens, read back ------------------------------------------------------------------------


@pytest.mark.parametrize(("golden", "name", "options", "expected"), PARAMS)
def test_golden_sample(golden: str, name: str, options: dict[str, Any],
                       expected: dict[str, tuple[str, ...]], sample_source: MemorySource,
                       tmp_path: Path) -> None:
    """The text files byte for byte and the layout (``files.txt``: where each image went)."""
    out = _export(sample_source, name, options, tmp_path / "out")
    written = {**_texts(out), "files.txt": _layout(out).encode()}
    folder = GOLDEN / golden
    if REGEN:
        shutil.rmtree(folder, ignore_errors=True)
        for relative, data in written.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(data)
    assert written == _texts(folder)


@pytest.mark.parametrize(("golden", "name", "options", "expected"), PARAMS)
def test_goldens_read_back(golden: str, name: str, options: dict[str, Any],
                           expected: dict[str, tuple[str, ...]], sample_source: MemorySource,
                           tmp_path: Path) -> None:
    """The golden files, with the sample's images put where ``files.txt`` says, read back as
    the sample's labels."""
    images = {r.item.file_name: Path(str(r.item.media_uri)) for r in sample_source.records()}
    root = tmp_path / golden
    shutil.copytree(GOLDEN / golden, root)
    for line in (root / "files.txt").read_text(encoding="utf-8").splitlines():
        target = root / line
        if target.suffix.lower() in IMAGE_SUFFIXES:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(images[target.name], target)
    (root / "files.txt").unlink()
    spec = get_format(name)
    assert spec.reader is not None
    read = spec.reader(root, spec.resolve_options(options))
    assert len(read) == len(sample_source)
    assert _labels_read(read, options) == expected


@pytest.mark.parametrize(("golden", "name", "options", "expected"), PARAMS)
def test_round_trip(golden: str, name: str, options: dict[str, Any],
                    expected: dict[str, tuple[str, ...]], sample_source: MemorySource,
                    tmp_path: Path) -> None:
    """Export, read, export again: the same files, the same labels and splits."""
    first = _export(sample_source, name, options, tmp_path / "first")
    spec = get_format(name)
    assert spec.reader is not None
    read = spec.reader(first, spec.resolve_options(options))
    assert _labels_read(read, options) == expected
    assert {r.split for r in read.records()} == {"train"}
    second = _export(MemorySource(project=sample_source.project, schema=read.schema,
                                  items=tuple(read.records())),
                     name, options, tmp_path / "second")
    assert _layout(second) == _layout(first)
    assert _texts(second) == _texts(first)


# --- layouts -----------------------------------------------------------------------------------


def _schema_source(*records: ItemRecord, classes: tuple[str, ...] = ("cat", "dog"),
                   kind: ClassificationKind | None = None) -> MemorySource:
    if kind is None:
        schema = LabelSchema(classes=tuple(LabelClass(id=i, name=n, geometry=GeometryKind.NONE)
                                           for i, n in enumerate(classes, start=1)))
    else:
        schema = LabelSchema(classifications=(ClassificationDef(name="animal", kind=kind,
                                                                options=classes),))
    return MemorySource(project=ProjectInfo(name="p"), schema=schema, items=records)


def _image(path: str, *labels: str, split: str | None = None,
           media: Path | None = None) -> ItemRecord:
    if media is not None:
        from PIL import Image

        media.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (6, 4), (10, 20, 30)).save(media / path)
    return ItemRecord(item=Item(dataset="d", path=path, width=6, height=4,
                                media_uri=str(media / path) if media else None),
                      annotations=tuple(Annotation(label=label, geometry=NoGeometry())
                                        for label in labels), split=split)


def torchvision_image_folder(root: Path) -> list[tuple[str, int]]:
    """torchvision's ``DatasetFolder`` (``find_classes`` and ``make_dataset``, torchvision
    0.20): class folders sorted by name are indices 0..n-1; files are walked per class, sorted,
    kept when their suffix is one of ``IMG_EXTENSIONS``; a class folder without a file is an
    error unless ``allow_empty``. Returns (path relative to root, class index)."""
    extensions = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
    classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    assert classes, f"Couldn't find any class folder in {root}"
    samples = []
    for index, name in enumerate(classes):
        for folder, _, files in sorted(os.walk(root / name, followlinks=True)):
            for file in sorted(files):
                if file.lower().endswith(extensions):
                    samples.append(((Path(folder) / file).relative_to(root).as_posix(), index))
    return samples


def test_class_folders_follow_torchvision_and_keep_indices_stable(tmp_path: Path) -> None:
    media = tmp_path / "media"
    source = _schema_source(_image("a.png", "dog", split="train", media=media),
                            _image("b.png", "cat", split="train", media=media),
                            _image("c.png", "dog", split="val", media=media),
                            _image("d.png", split="val", media=media),
                            classes=("dog", "cat", "bird"))
    result = run_export(source, get_format("imagefolder"), tmp_path / "out", media=MediaMode.COPY)
    out = result.path
    assert (out / "classes.tsv").read_text(encoding="utf-8") == (
        "index\tfolder\tclass\n0\tbird\tbird\n1\tcat\tcat\n2\tdog\tdog\n")
    assert torchvision_image_folder(out / "train") == [("cat/b.png", 1), ("dog/a.png", 2)]
    assert torchvision_image_folder(out / "val") == [("dog/c.png", 2)]
    assert (out / "unlabeled" / "val" / "d.png").is_file()
    assert result.report.counts["written to unlabeled/: image without a label"] == 1
    assert any("allow_empty=True" in m for m in result.report.messages)
    assert any("0 bird, 1 cat, 2 dog" in m for m in result.report.messages)
    skipped = run_export(source, get_format("imagefolder"), tmp_path / "skip",
                         options={"unlabeled": "skip"}, media=MediaMode.COPY)
    assert not (skipped.path / "unlabeled").exists()
    assert skipped.report.counts["left out: image without a label"] == 1


def test_yolo_classify_warns_about_splits_ultralytics_does_not_train_on(tmp_path: Path) -> None:
    source = _schema_source(_image("a.png", "dog", split="holdout"))
    result = run_export(source, get_format("yolo"), tmp_path / "out",
                        options={"task": "classify"})
    assert (result.path / "holdout" / "dog").is_dir()
    assert not (result.path / "data.yaml").exists()
    messages = " ".join(result.report.messages)
    assert "holdout" in messages and "no val or test split" in messages


def test_multi_label_goes_to_one_hot_columns_and_label_lists(tmp_path: Path) -> None:
    source = _schema_source(_image("a.png", "cat", "dog"), _image("b.png"))
    with pytest.raises(UnsupportedError, match="classification_csv with one_hot|multi_label"):
        run_export(source, get_format("imagefolder"), tmp_path / "a")
    with pytest.raises(UnsupportedError, match="multi_label=true"):
        run_export(source, get_format("classification_csv"), tmp_path / "b")
    csv_out = run_export(source, get_format("classification_csv"), tmp_path / "c",
                         options={"multi_label": True}).path
    assert (csv_out / "train.csv").read_text(encoding="utf-8") == (
        "image,cat,dog\ntrain/a.png,1,1\ntrain/b.png,0,0\n")
    hf_out = run_export(source, get_format("hf_imagefolder"), tmp_path / "d",
                        options={"multi_label": True}).path
    assert (hf_out / "train" / "metadata.jsonl").read_text(encoding="utf-8") == (
        '{"file_name":"a.png","label":["cat","dog"]}\n{"file_name":"b.png","label":[]}\n')


def test_checkbox_classification_is_refused_by_class_folders(tmp_path: Path) -> None:
    source = _schema_source(kind=ClassificationKind.CHECKBOX)
    for options in ({}, {"task": "classify"}):
        name = "yolo" if options else "imagefolder"
        with pytest.raises(UnsupportedError, match="checkbox.*classification_csv"):
            run_export(source, get_format(name), tmp_path / name,
                       options={"classification": "animal", **options})


@pytest.mark.parametrize(("classes", "split", "message"), [
    (("Cat", "cat"), None, "cannot tell 'Cat' and 'cat' apart"),
    (("a/b", "a_b"), None, "cannot tell 'a/b' and 'a_b' apart"),
    (("unlabeled",), None, "unlabeled"),
    (("cat",), "unlabeled", "a split cannot have that name"),
])
def test_class_folder_refusals(classes: tuple[str, ...], split: str | None, message: str,
                               tmp_path: Path) -> None:
    source = _schema_source(_image("a.png", split=split), classes=classes)
    with pytest.raises(UnsupportedError, match=message):
        run_export(source, get_format("imagefolder"), tmp_path / "out")


def test_class_folders_without_splits_are_read_with_sorted_classes(tmp_path: Path) -> None:
    from PIL import Image

    for folder, name in (("zebra", "1.png"), ("ant", "2.jpg"), ("ant", "3.png")):
        (tmp_path / folder).mkdir(exist_ok=True)
        Image.new("RGB", (5, 3)).save(tmp_path / folder / name)
    (tmp_path / "empty").mkdir()
    read = get_format("imagefolder").reader(tmp_path, {})  # type: ignore[misc]
    assert read.schema.class_names == ("ant", "empty", "zebra")
    assert [(r.split, r.item.path, r.item.width, r.annotations[0].label)
            for r in read.records()] == [(None, "2.jpg", 5, "ant"), (None, "3.png", 5, "ant"),
                                         (None, "1.png", 5, "zebra")]


# --- bad input ---------------------------------------------------------------------------------


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def _png(path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4)).save(path)


@pytest.mark.parametrize(("name", "files", "message"), [
    ("classification_csv", {"train.csv": ""}, "train.csv: the file is empty"),
    ("classification_csv", {"train.csv": "file,label\n"}, "train.csv line 1: expected the header"),
    ("classification_csv", {"train.csv": "image,label\ntrain/a.png\n"},
     "train.csv line 2: 1 fields, but the header has 2"),
    ("classification_csv", {"train.csv": "image,label\n\"a.png,x\n"}, "train.csv line 2"),
    ("classification_csv", {"train.csv": "image,cat,dog\ntrain/a.png,1,2\n"},
     "train.csv line 2, column 'dog': expected 0 or 1"),
    ("classification_csv", {"train.csv": "image,label\nmissing.png,cat\n"},
     "train.csv line 2: image 'missing.png' not found"),
    ("classification_csv", {"train.csv": b"image,label\n\xff\xfe,cat\n"},
     "train.csv: line 2 .*not valid utf-8"),
    ("hf_imagefolder", {"train/metadata.jsonl": "{nope\n"}, "metadata.jsonl line 1: not valid "
                                                             "JSON"),
    ("hf_imagefolder", {"train/metadata.jsonl": "[1]\n"}, "line 1: expected an object"),
    ("hf_imagefolder", {"train/metadata.jsonl": '{"label": "cat"}\n'}, "at \\$.file_name"),
    ("hf_imagefolder", {"train/metadata.jsonl": '{"file_name": "a.png", "label": 3}\n'},
     "line 1: at \\$.label"),
    ("hf_imagefolder", {"x.txt": ""}, "no metadata.jsonl"),
    ("imagefolder", {"classes.tsv": "index\tfolder\tclass\n0\tcat\n"}, "classes.tsv: line 2"),
    ("imagefolder", {"classes.tsv": b"\xff"}, "classes.tsv: line 1 .*not valid utf-8"),
    ("imagefolder", {"train/a.png": None, "train/cat/b.png": None}, "has no class"),
    ("imagefolder", {"cat/a.png": b"not a png"}, "a.png: not a readable image"),
])
def test_bad_input_is_refused_with_the_place(name: str, files: dict[str, str | bytes | None],
                                             message: str, tmp_path: Path) -> None:
    _png(tmp_path / "train" / "a.png")
    for relative, text in files.items():
        if text is None:
            _png(tmp_path / relative)
        else:
            _write(tmp_path / relative, text)
    spec: FormatSpec = get_format(name)
    assert spec.reader is not None
    with pytest.raises(InputError, match=message):
        list(spec.reader(tmp_path, {}).records())


def test_a_label_outside_the_one_hot_classes_cannot_be_read(tmp_path: Path) -> None:
    _png(tmp_path / "train" / "a.png")
    _write(tmp_path / "train.csv", "image,label\ntrain/a.png,cat\n")
    _write(tmp_path / "val.csv", "image,cat\ntrain/a.png,1\n")
    with pytest.raises(InputError, match="the tables have different columns"):
        get_format("classification_csv").reader(tmp_path, {})  # type: ignore[misc]


# --- third-party readers -----------------------------------------------------------------------


def test_hugging_face_datasets_loads_metadata_jsonl(offline_datasets: Any,
                                                    sample_source: MemorySource,
                                                    tmp_path: Path) -> None:
    for classification, expected in (("weather", WEATHER), ("hazards", HAZARDS)):
        out = _export(sample_source, "hf_imagefolder", {"classification": classification},
                      tmp_path / classification)
        loaded = offline_datasets.load_dataset("imagefolder", data_dir=str(out),
                                               cache_dir=str(tmp_path / "cache"))
        rows = loaded["train"]
        assert rows.num_rows == len(sample_source)
        assert rows[0]["image"].size == (640, 360)
        labels = [tuple([label] if isinstance(label, str) else label or ())
                  for label in rows["label"]]
        names = [r.item.file_name for r in sample_source.records()]
        assert {n: lab for n, lab in zip(names, labels, strict=True) if lab} == expected
        # the folder itself: the dataset card makes the labels class labels, in schema order
        carded = offline_datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
        feature = carded["train"].features["label"]
        class_label = getattr(feature, "feature", feature)
        classes = [d.options for d in sample_source.schema.classifications
                   if d.name == classification][0]
        assert class_label.names == list(classes)
        indices = [[v] if isinstance(v, int) else v or [] for v in carded["train"]["label"]]
        assert {n: tuple(classes[i] for i in ids)
                for n, ids in zip(names, indices, strict=True) if ids} == expected


_DATUMARO_IMAGENET = """
import json, sys
import datumaro as dm
found = []
for path in sys.argv[1:]:
    dataset = dm.Dataset.import_from(path, "imagenet")
    names = [c.name for c in dataset.categories()[dm.AnnotationType.label]]
    found.append({"classes": names, "items": sorted(
        [item.id, [names[a.label] for a in item.annotations]] for item in dataset)})
print(json.dumps(found))
"""


def test_datumaro_reads_the_class_folders_as_imagenet(sample_source: MemorySource,
                                                      tmp_path: Path) -> None:
    """Datumaro's ``imagenet`` (``{class}/{image}``) on a split folder of ``imagefolder`` and
    of ``yolo -o task=classify``: the classes, and each image with its one label."""
    weather = {"classification": "weather"}
    folders = _export(sample_source, "imagefolder", weather, tmp_path / "imagefolder")
    classify = _export(sample_source, "yolo", {"task": "classify", **weather}, tmp_path / "yolo")
    expected = {"classes": ["fog", "rain", "sunny"],
                "items": sorted([f"{labels[0]}:{name.rsplit('.', 1)[0]}", list(labels)]
                                for name, labels in WEATHER.items())}
    assert run_side(DATUMARO, _DATUMARO_IMAGENET, str(folders / "train"),
                    str(classify / "train")) == [expected, expected]


_ULTRALYTICS_CLASSIFY = """
import json, os, sys
os.environ["YOLO_OFFLINE"] = "1"
from ultralytics.data.utils import check_cls_dataset
data = check_cls_dataset(sys.argv[1])
print(json.dumps({"names": data["names"], "nc": data["nc"],
                  "splits": [str(data[k]) for k in ("train", "val", "test")]}))
"""


def test_ultralytics_takes_the_classify_folders(sample_source: MemorySource,
                                                tmp_path: Path) -> None:
    """Ultralytics' ``check_cls_dataset`` (what ``yolo classify train data=DIR`` runs): class
    names and indices from the train folder, as classes.tsv lists them, and the split folders.
    (Its ``ClassificationDataset`` needs torchvision's compiled ops, not in the side venv.)"""
    records = tuple(ItemRecord(item=r.item, tasks=r.tasks, annotations=r.annotations,
                               split="val" if r.item.dataset == "field" else "train")
                    for r in _ground_truth(sample_source).records())
    source = MemorySource(project=sample_source.project, schema=sample_source.schema,
                          items=records)
    out = run_export(source, get_format("yolo"), tmp_path / "out",
                     options={"task": "classify", "classification": "weather"},
                     media=MediaMode.COPY).path
    found = run_side(ULTRALYTICS, _ULTRALYTICS_CLASSIFY, str(out))
    listed = [line.split("\t") for line in
              (out / "classes.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    assert found["names"] == {index: name for index, _, name in listed}
    assert found["nc"] == 3
    assert found["splits"] == [str(out / "train"), str(out / "val"), "None"]
