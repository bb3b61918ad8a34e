"""Class folders, ``{split}/{class}/{image}``: torchvision's ``ImageFolder``, Keras'
``image_dataset_from_directory`` and Ultralytics' classify layout (``train/``, ``val/``,
``test/``), written and read here for both ``imagefolder`` and ``yolo`` with ``task=classify``.

Layout::

    classes.tsv                   "index<TAB>folder<TAB>class": each class, index = its position
                                  in sorted folder order (the index torchvision gives it)
    {split}/{class}/{image}       every class has a folder in every split, also when empty,
                                  so the indices a loader derives never change between exports
    unlabeled/{split}/{image}     images without a label (option unlabeled=folder, default);
                                  beside the splits, so no loader takes it for a class

Conventions:
- A loader numbers classes by sorting the folder names (torchvision, Keras and Ultralytics all
  do), so class indices are that order, not the schema's; ``classes.tsv`` and the manifest say
  which index each class gets. A folder is the class name made a safe file name (`naming`); two
  classes that give the same folder (also differing only in case) are refused.
- One label per image: a checkbox classification or an image with several labels is refused
  (pointing at ``classification_csv`` with one-hot columns or ``hf_imagefolder``).
- Empty class folders keep the indices stable; torchvision's ``ImageFolder`` refuses them unless
  given ``allow_empty=True`` (Ultralytics passes it), so the report warns about each split
  that has one.
- Images are the only content, so without media (``--media copy`` or ``symlink``) the folders
  stay empty (a warning says so).

Reading takes the export folder: split folders (a folder whose subfolders hold images) or class
folders directly under it (no split). Classes come from ``classes.tsv`` when present (in its
order), else from the folder names sorted as torchvision sorts them; each image is an item of
dataset ``default`` named by its file name, its size from its header."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from labelport.domain.model import ItemRecord, ProjectInfo
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.image_files import image_item, is_image
from labelport.formats._shared.image_labels import (
    LabelSource,
    image_labels,
    label_source,
    labelled_record,
    read_label_source,
    read_schema,
    record_class_order,
)
from labelport.formats._shared.input_files import read_lines
from labelport.formats._shared.naming import FileNamer, safe_file_name
from labelport.formats.base import OptionSpec, WriteContext, no_media

CLASSES_FILE = "classes.tsv"
_CLASSES_HEADER = "index\tfolder\tclass"
UNLABELED_DIR = "unlabeled"
UNLABELED_CHOICES = ("folder", "skip")
UNLABELED_OPTION = OptionSpec(
    name="unlabeled", type=str, default="folder", choices=UNLABELED_CHOICES,
    help="images without a label: folder puts them in unlabeled/{split}/, skip leaves them out "
         "(counted)")
_PROGRESS_EVERY = 200


def class_folders(source: LabelSource) -> dict[str, str]:
    """class -> folder name, in sorted folder order (the loaders' class indices)."""
    owner: dict[str, str] = {}
    folders: dict[str, str] = {}
    for name in source.classes:
        folder = safe_file_name(name)
        if folder.casefold() in owner or folder == UNLABELED_DIR:
            other = owner.get(folder.casefold(), "the unlabeled images")
            raise UnsupportedError(f"class folders cannot tell {other!r} and {name!r} apart: "
                                   f"both are written as the folder {folder!r}; rename one")
        owner[folder.casefold()] = name
        folders[name] = folder
    return dict(sorted(folders.items(), key=lambda pair: pair[1]))


def classes_tsv(folders: Mapping[str, str]) -> str:
    return "".join(f"{line}\n" for line in [_CLASSES_HEADER, *(
        f"{index}\t{folder}\t{name}" for index, (name, folder) in enumerate(folders.items()))])


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any], ctx: WriteContext,
          *, format_name: str) -> None:
    """Place every image in the folder of its class (``ctx.place_media``); ``format_name``
    names the format in refusals."""
    labels_from = label_source(source.schema, options)
    if labels_from.multi_label:
        raise UnsupportedError(
            f"{format_name} holds one label per image and {labels_from.described} is a "
            "checkbox (several labels per image); export classification_csv (one-hot columns) "
            "or hf_imagefolder instead")
    folders = class_folders(labels_from)
    for name, folder in folders.items():
        if folder != name:
            ctx.report.warn(f"class {name!r} is written as the folder {folder!r}")
    record_class_order(ctx, folders, rule="sorted folder names, as torchvision numbers them")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CLASSES_FILE).write_text(classes_tsv(folders), encoding="utf-8", newline="\n")
    skip_unlabeled = options.get("unlabeled", "folder") == "skip"
    namer = FileNamer(report=ctx.report)
    splits: set[str] = set()
    filled: set[tuple[str, str]] = set()
    done = 0
    for done, record in enumerate(source.records(), start=1):
        split = safe_file_name(record.split or "train")
        if split not in splits:
            if split == UNLABELED_DIR:
                raise UnsupportedError(f"{format_name} keeps images without a label in "
                                       f"{UNLABELED_DIR}/, so a split cannot have that name")
            splits.add(split)
            for folder in folders.values():
                (out_dir / split / folder).mkdir(parents=True, exist_ok=True)
        labels = image_labels(record, labels_from, ctx)
        if len(labels) > 1:
            raise UnsupportedError(
                f"{record.item.dataset}/{record.item.path} has {len(labels)} labels "
                f"({', '.join(labels)}) and {format_name} holds one per image; export "
                "classification_csv with one_hot=true or hf_imagefolder instead")
        if labels:
            filled.add((split, labels[0]))
            target = out_dir / split / folders[labels[0]] / namer.name(record.item, split)
        elif skip_unlabeled:
            ctx.report.count("left out: image without a label")
            continue
        else:
            ctx.report.count(f"written to {UNLABELED_DIR}/: image without a label")
            target = out_dir / UNLABELED_DIR / split / namer.name(record.item, split)
            target.parent.mkdir(parents=True, exist_ok=True)
        ctx.place_media(record.item, target)
        if done % _PROGRESS_EVERY == 0:
            ctx.progress(done)
    for split in sorted(splits):
        empty = [name for name in folders if (split, name) not in filled]
        if empty:
            ctx.report.warn(f"split {split} has no image of {', '.join(map(repr, empty))}: their "
                            "folders stay, empty, so class indices do not move; torchvision's "
                            "ImageFolder needs allow_empty=True to load them")
    if ctx.place_media is no_media and done:
        ctx.report.warn(f"{format_name} is made of images only and this export has no media: "
                        "the class folders are empty (export with --media copy or symlink)")
    ctx.progress(done)


# --- reading ---------------------------------------------------------------------------------


def _read_classes(path: Path) -> dict[str, str]:
    """folder -> class from ``classes.tsv``, in its order."""
    lines = read_lines(path)
    names: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if (number == 1 and line == _CLASSES_HEADER) or not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != 3 or not cells[1] or not cells[2]:
            raise InputError(f"{path}: line {number}: expected 'index<TAB>folder<TAB>class', "
                             f"got {line!r}")
        if cells[1] in names:
            raise InputError(f"{path}: line {number}: folder {cells[1]!r} is listed twice")
        names[cells[1]] = cells[2]
    return names


def _subfolders(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name)


def _images(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if is_image(p)), key=lambda p: p.name)


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read class folders (see the module docstring); images only, no label files."""
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: expected a folder of class folders ({{split}}/{{class}}/"
                         "{image} or {class}/{image})")
    unlabeled = root / UNLABELED_DIR
    tops = [f for f in _subfolders(root) if f != unlabeled]
    split_layout = any(_subfolders(f) for f in tops) or (
        unlabeled.is_dir() and bool(_subfolders(unlabeled)))
    # (split, class folder or None for unlabeled, folder of images)
    folders: list[tuple[str | None, str | None, Path]] = []
    for top in tops:
        if not split_layout:
            folders.append((None, top.name, top))
            continue
        stray = _images(top)
        if stray:
            raise InputError(f"{stray[0]}: an image directly in the split folder {top.name}/ "
                             "has no class; put it in a class folder or in "
                             f"{UNLABELED_DIR}/{top.name}/")
        folders += [(top.name, c.name, c) for c in _subfolders(top)]
    if unlabeled.is_dir():
        folders += [(s.name if split_layout else None, None, s) for s in _subfolders(unlabeled)]
        folders += [(None, None, unlabeled)] if _images(unlabeled) else []
    listed = _read_classes(root / CLASSES_FILE) if (root / CLASSES_FILE).is_file() else {}
    found = sorted({c for _, c, _ in folders if c is not None} - set(listed))
    names = listed | {folder: folder for folder in found}
    labels_from = read_label_source(names.values(), options, multi_label=False)
    images = [(split, names[c] if c is not None else None, image)
              for split, c, folder in folders for image in _images(folder)]

    def records() -> Iterator[ItemRecord]:
        for split, label, image in images:
            yield labelled_record(image_item(image), () if label is None else (label,),
                                  labels_from, split=split)

    return StreamSource(project=ProjectInfo(name=root.name), schema=read_schema(labels_from),
                        count=len(images), open_records=records)
