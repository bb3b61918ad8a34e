"""``hf_imagefolder``: Hugging Face's ImageFolder with a ``metadata.jsonl`` per split, which
``datasets.load_dataset("imagefolder", data_dir=...)`` loads with the labels as a column.

Layout::

    README.md                dataset card: the features, the classes in schema order
    {split}/metadata.jsonl   one JSON object per image, in record order
    {split}/{image}          with media copied or linked

Lines: ``{"file_name": "a.jpg", "label": "car"}``. ``file_name`` is relative to the
``metadata.jsonl`` (absolute with ``--paths absolute``); ``label`` is the class name, ``null``
for an image without a label. Multi-label exports (option ``multi_label=true``, on for a
checkbox classification) write ``"label": ["car", "truck"]`` (``[]`` without a label). Labels
come from image-level classes or the ``classification`` option
(`labelport.formats._shared.image_labels`). Split folders are named as the records' splits;
``datasets`` knows ``train``, ``val``/``validation`` and ``test``. The labels are names; the
dataset card declares ``label`` a ``ClassLabel`` (a sequence of them when multi-label) with the
classes in schema order, so ``load_dataset(folder)`` gives indices in that order;
``load_dataset("imagefolder", data_dir=folder)`` ignores the card and gives the names.

Reading takes the export folder (a ``metadata.jsonl`` in each split folder, or one at the top
for no split) or one ``metadata.jsonl``. Classes are the card's ``label`` classes in their
order (then labels it lacks, sorted), else the labels found, sorted. Images are
looked up relative to the metadata file, then by name in the ``images`` option's folder; their
size comes from their header. Items get dataset ``default``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import orjson

from labelport.domain.model import ItemRecord, ProjectInfo
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError
from labelport.formats._shared.hf_card import (
    CARD_FILE,
    Json,
    card_features,
    card_text,
    read_front_matter,
)
from labelport.formats._shared.image_files import ImageFolder
from labelport.formats._shared.image_labels import (
    labelled_record,
    read_label_source,
    read_schema,
)
from labelport.formats._shared.input_files import read_bytes
from labelport.formats._shared.json_input import decode_json
from labelport.formats._shared.shard_merge import concatenate
from labelport.formats.base import WriteContext
from labelport.formats.classification._images import (
    images,
    labelled_item,
    labels_and_multi,
    spec,
)

METADATA_FILE = "metadata.jsonl"
_MERGED = f"*/{METADATA_FILE}"
"""The split files `merge_shards` concatenates, as a glob under a shard's folder."""


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    labels_from, multi = labels_and_multi(source, options)
    out_dir.mkdir(parents=True, exist_ok=True)
    label: Json = {"_type": "ClassLabel", "names": list(labels_from.classes)}
    features = {"image": {"_type": "Image"},
                "label": {"_type": "Sequence", "feature": label} if multi else label}
    (out_dir / CARD_FILE).write_text(card_text(
        {"configs": [{"config_name": "default", "features": card_features(features)}]},
        f"# {source.project.name}\n\nImage labels from {labels_from.described}, exported by "
        "labelport: `datasets.load_dataset(\"<this folder>\")` gives them as class labels.\n"),
        encoding="utf-8", newline="\n")
    with ExitStack() as stack:
        files: dict[str, IO[bytes]] = {}
        for image in images(source, out_dir, ctx, labels_from=labels_from, multi_label=multi,
                            format_name="hf_imagefolder", relative_to_split=True):
            file = files.get(image.split)
            if file is None:
                (out_dir / image.split).mkdir(parents=True, exist_ok=True)
                file = files[image.split] = stack.enter_context(
                    (out_dir / image.split / METADATA_FILE).open("wb"))
            value: Any = list(image.labels) if multi else (image.labels[0] if image.labels
                                                           else None)
            file.write(orjson.dumps({"file_name": image.reference, "label": value}) + b"\n")


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """Each split's ``metadata.jsonl``: the shards' lines in shard order (the dataset card,
    from the schema alone, is the same in every shard and merges by copying)."""
    return concatenate(shards, out, _MERGED)


# --- reading ---------------------------------------------------------------------------------


def _label(value: Any, origin: str) -> tuple[tuple[str, ...], bool]:
    """The labels of a line and whether they came as a list."""
    if value is None:
        return (), False
    if isinstance(value, str) and value:
        return (value,), False
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(dict.fromkeys(value)), True
    raise InputError(f"{origin}: at $.label: expected a class name, null or a list of class "
                     f"names, got {value!r}")


def _lines(file: Path) -> list[tuple[str, str, tuple[str, ...], bool]]:
    """(origin, file_name, labels, as a list) of each line of one metadata file."""
    entries = []
    for number, line in enumerate(read_bytes(file).splitlines(), start=1):
        if not line.strip():
            continue
        origin = f"{file} line {number}"
        value = decode_json(line, origin)
        if not isinstance(value, dict):
            raise InputError(f"{origin}: expected an object with file_name and label")
        name = value.get("file_name")
        if not isinstance(name, str):
            raise InputError(f"{origin}: at $.file_name: expected the image's file name")
        labels, listed = _label(value.get("label"), origin)
        entries.append((origin, name, labels, listed))
    return entries


def _card_classes(root: Path) -> list[str]:
    """The class names the dataset card gives ``label`` (a class label or a sequence of them),
    in their order; none without a card."""
    front = read_front_matter(root)
    configs = front.get("configs") if front is not None else None
    features = configs[0].get("features") if isinstance(configs, list) and configs and \
        isinstance(configs[0], dict) else None
    for feature in features if isinstance(features, list) else []:
        if isinstance(feature, dict) and feature.get("name") == "label":
            kind = feature.get("dtype") or feature.get("sequence")
            names = kind.get("class_label", {}).get("names") if isinstance(kind, dict) else None
            if isinstance(names, dict):
                return [str(names[k]) for k in sorted(names, key=str)]
            if isinstance(names, list):
                return [str(name) for name in names]
    return []


def _metadata_files(root: Path) -> list[tuple[str | None, Path]]:
    if root.is_file():
        return [(None, root)]
    if not root.is_dir():
        raise InputError(f"{root}: no such file or folder")
    files: list[tuple[str | None, Path]] = []
    if (root / METADATA_FILE).is_file():
        files.append((None, root / METADATA_FILE))
    files += [(f.name, f / METADATA_FILE) for f in sorted(root.iterdir())
              if (f / METADATA_FILE).is_file()]
    if not files:
        raise InputError(f"{root}: no {METADATA_FILE} here or in a split folder")
    return files


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    root = Path(path)
    tables = [(split, file, _lines(file)) for split, file in _metadata_files(root)]
    every = [entry for *_, lines in tables for entry in lines]
    carded = _card_classes(root if root.is_dir() else root.parent)
    classes = carded + sorted({label for _, _, labels, _ in every for label in labels}
                              - set(carded))
    labels_from = read_label_source(classes, options,
                                    multi_label=any(listed for *_, listed in every))
    given = options.get("images")
    fallback = ImageFolder(Path(given)) if given else None

    def records() -> Iterator[ItemRecord]:
        for split, file, lines in tables:
            for origin, name, labels, _ in lines:
                item = labelled_item(name, folder=file.parent, images=fallback, origin=origin)
                yield labelled_record(item, labels, labels_from, split=split)

    return StreamSource(project=ProjectInfo(name=root.name), schema=read_schema(labels_from),
                        count=len(every), open_records=records)


SPEC = spec(
    name="hf_imagefolder",
    title="Hugging Face ImageFolder (metadata.jsonl)",
    extension="jsonl",
    index_base="labels are class names (the classes in schema order in the manifest's report)",
    notes="{split}/metadata.jsonl with file_name relative to it and label (null without one; "
          "a list with multi_label)",
    writer=write,
    reader=read,
    merge_shards=merge_shards,
    merge_reads=(_MERGED,),
)
