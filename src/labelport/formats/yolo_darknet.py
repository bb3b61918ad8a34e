"""YOLO Darknet (``yolo_darknet``): AlexeyAB/pjreddie Darknet's layout, as Datumaro and CVAT
write it ("YOLO 1.1").

Layout::

    obj.data                  classes = N, train = data/train.txt, valid = data/valid.txt,
                              names = data/obj.names, backup = backup/
    obj.names                 one class name per line, line i = class index i
    train.txt                 data/obj_train_data/a.jpg, one image per line
    valid.txt                 the ``val`` split (Darknet's key is ``valid``)
    obj_train_data/a.jpg      the images (with --media copy|symlink)
    obj_train_data/a.txt      their labels beside them; every image has one, empty without objects

Paths start with ``data/`` because Darknet runs from its own folder with the dataset copied to
``data/`` (Datumaro's default). Other splits get ``{split}.txt``, ``obj_{split}_data/`` and a
``{split} =`` line, which Darknet ignores.

Rows are ``cls cx cy w h``: class index from 0 in the schema's order (every class), centre and
size as fractions of the image, 6 decimals, inside [0, 1] (Darknet's own definition; the
Innotescus seed's ``x_min y_min`` wording is not followed). Any other geometry becomes its
bounding box (counted); image-level classes, attributes, tags and scores are not carried
(counted). A value that would leave [0, 1] (only with the ``keep`` policy) drops its row
(counted).

The reader takes the folder (or ``obj.data``), reads ``obj.names`` and every list named in
``obj.data`` (``valid`` becomes split ``val``); image sizes come from the images' headers, found
beside the labels or in the ``images`` option's folder. Items get dataset ``default`` and their
image file name as path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from labelport.domain.geometry import GeometryKind
from labelport.domain.model import ItemRecord, ProjectInfo
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError
from labelport.formats import _yolo_rows as rows
from labelport.formats._image_files import ImageFolder, find_image, image_item
from labelport.formats._naming import FileNamer, safe_file_name
from labelport.formats.base import Conventions, FormatSpec, WriteContext

DATA_FILE = "obj.data"
NAMES_FILE = "obj.names"
PREFIX = "data"
RESERVED = frozenset({"classes", "names", "backup"})
PROGRESS_EVERY = 100


def subset_name(split: str) -> str:
    """Darknet's name of a split: ``val`` is ``valid``."""
    return "valid" if split == "val" else safe_file_name(split)


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    schema = source.schema
    namer = FileNamer(unique_stems=True)
    lists: dict[str, Any] = {}
    done = 0
    try:
        for record in source.records():
            subset = subset_name(record.split or "train")
            if subset in RESERVED:
                subset = f"{subset}_"
            folder = out_dir / f"obj_{subset}_data"
            if subset not in lists:
                folder.mkdir(parents=True, exist_ok=True)
                lists[subset] = (out_dir / f"{subset}.txt").open("w", encoding="utf-8")
            name = namer.name(record.item, subset)
            ctx.place_media(record.item, folder / name)
            lists[subset].write(f"{PREFIX}/obj_{subset}_data/{name}\n")
            text = "".join(f"{row}\n" for row in
                           rows.detect_rows(record, schema=schema, ctx=ctx))
            (folder / f"{PurePosixPath(name).stem}.txt").write_text(text, encoding="utf-8")
            done += 1
            if done % PROGRESS_EVERY == 0:
                ctx.progress(done)
    finally:
        for handle in lists.values():
            handle.close()
    subsets = list(dict.fromkeys(["train", "valid", *lists]))
    for subset in subsets:
        if subset not in lists:
            (out_dir / f"obj_{subset}_data").mkdir(exist_ok=True)
            (out_dir / f"{subset}.txt").write_text("", encoding="utf-8")
    (out_dir / NAMES_FILE).write_text("".join(f"{n}\n" for n in schema.class_names),
                                      encoding="utf-8")
    lines = [f"classes = {len(schema.classes)}"]
    lines += [f"{subset} = {PREFIX}/{subset}.txt" for subset in subsets]
    lines += [f"names = {PREFIX}/{NAMES_FILE}", "backup = backup/"]
    (out_dir / DATA_FILE).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    ctx.progress(done)


# --- reading -----------------------------------------------------------------------------------


def _local(root: Path, value: str) -> Path:
    """A path from obj.data or a list, inside the export: Darknet's ``data/`` prefix is the
    export's own folder."""
    relative = PurePosixPath(value.strip())
    if not (root / relative).exists() and relative.parts[:1] == (PREFIX,):
        relative = PurePosixPath(*relative.parts[1:])
    if relative.is_absolute() or ".." in relative.parts:
        raise InputError(f"{value!r} is outside the dataset folder")
    return root / relative


def _data_entries(data_file: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(rows.read_lines(data_file), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise InputError(f"{data_file}:{number}: expected 'key = value'; got {line!r}")
        entries[key.strip()] = value.strip()
    return entries


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    data_file = path / DATA_FILE if path.is_dir() else path
    if not data_file.is_file():
        raise InputError(f"{data_file}: no such file; a yolo_darknet import takes obj.data or "
                         "its folder")
    root = data_file.parent
    entries = _data_entries(data_file)
    names_file = _local(root, entries.get("names", NAMES_FILE))
    names = rows.read_class_names(names_file)
    if "" in names:
        raise InputError(f"{names_file}:{names.index('') + 1}: empty class name")
    images_option = options.get("images")
    extra = ImageFolder(Path(images_option)) if images_option else None
    items: list[tuple[str, Path, Path]] = []
    for key, value in entries.items():
        if key in RESERVED:
            continue
        split = "val" if key == "valid" else key
        list_file = _local(root, value)
        for number, line in enumerate(rows.read_lines(list_file), 1):
            if not line.strip():
                continue
            listed = _local(root, line)
            image = find_image(listed, extra)
            if image is None:
                raise InputError(f"{list_file}:{number}: image {line.strip()!r} not found "
                                 "beside its labels nor in the images folder given")
            items.append((split, listed.with_suffix(".txt"), image))

    def records() -> Iterator[ItemRecord]:
        for split, label, image in items:
            item = image_item(image)
            annotations = rows.read_label_file(label, names=names, obb=False, n_keypoints=None,
                                               image_wh=(item.width, item.height))
            yield ItemRecord(item=item, annotations=tuple(annotations), split=split)

    return StreamSource(project=ProjectInfo(name=root.name),
                        schema=rows.schema_from_names(names), count=len(items),
                        open_records=records)


SPEC = FormatSpec(
    name="yolo_darknet",
    title="YOLO Darknet (obj.data, obj.names, labels beside the images)",
    extension="txt",
    geometries=frozenset({GeometryKind.BOX}),
    conventions=Conventions(
        coordinates="fractions of the image width and height, 6 decimals, inside [0, 1]",
        index_base="class index from 0 in the schema's order",
        notes="rows are cls cx cy w h (centre-based); paths in obj.data and the lists start "
              "with data/",
    ),
    splits=True,
    media=True,
    writer=write,
    reader=read,
)
