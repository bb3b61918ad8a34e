"""YOLO Darknet (``yolo_darknet``): AlexeyAB/pjreddie Darknet's layout, as Datumaro and CVAT
write it ("YOLO 1.1").

Layout::

    obj.data                  classes = N, train = data/train.txt, valid = data/valid.txt,
                              names = data/obj.names, backup = backup/
    obj.names                 one class name per line, line i = class index i
    train.txt                 data/obj_train_data/a.jpg, one image per line
    valid.txt                 the ``val`` split (Darknet's key is ``valid``)

``obj.data`` names a list only for a split that has images (Darknet's ``-map`` and Ultralytics
refuse an empty one); with no val images, ``valid`` names the train list, as Darknet's own
examples do (counted in the report), and no empty ``valid.txt`` is written.
    obj_train_data/a.jpg      the images (with --media copy|symlink)
    obj_train_data/a.txt      their labels beside them; every image has one, empty without objects
    obj_train_data/cam1/b.jpg an item's path inside its dataset keeps its folders (the list
                              line is data/obj_train_data/cam1/b.jpg, the labels beside it)

Paths start with ``data/`` because Darknet runs from its own folder with the dataset copied to
``data/`` (Datumaro's default). Other splits get ``{split}.txt``, ``obj_{split}_data/`` and a
``{split} =`` line, which Darknet ignores. With ``--paths absolute`` the lists name each image by
`WriteContext.media_reference` instead: its absolute path in the published export, or without
media where the source is. Darknet finds a label file beside its image, so a list naming images
outside the export is counted (the labels stay in ``obj_{split}_data/``); ``obj.data`` keeps
its ``data/`` paths.

Rows are ``cls cx cy w h``: class index from 0 in the schema's order (every class), centre and
size as fractions of the image, 6 decimals, inside [0, 1] (Darknet's own definition; the
Innotescus seed's ``x_min y_min`` wording is not followed). Any other geometry becomes its
bounding box (counted); image-level classes, attributes, tags and scores are not carried
(counted). A value that would leave [0, 1] (only with the ``keep`` policy) drops its row
(counted).

The reader takes the folder (or ``obj.data``), reads ``obj.names`` and every list named in
``obj.data`` once (``valid`` becomes split ``val``; a list named twice, as ``valid = train``, is
read as its first key's split); image sizes come from the images' headers, found
beside the labels or in the ``images`` option's folder. A list line that is an absolute path or
URL names the image where it is (else it is found by name in ``obj_{split}_data/`` or the
``images`` folder); its labels are ``obj_{split}_data/{stem}.txt``, else beside the image, and
two lines that would share one label file are refused. Items get dataset ``default`` and their
image file name as path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from labelport.domain.geometry import GeometryKind
from labelport.domain.model import Item, ItemRecord, ProjectInfo
from labelport.domain.source import ExportSource, StreamSource
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.image_files import (
    ImageFolder,
    find_image,
    image_item,
    is_absolute_reference,
    local_reference,
    reference_name,
)
from labelport.formats._shared.input_files import is_folder, is_regular_file
from labelport.formats._shared.naming import FileNamer, file_stem, safe_file_name
from labelport.formats.base import Conventions, FormatSpec, WriteContext
from labelport.formats.yolo import _rows as rows

DATA_FILE = "obj.data"
NAMES_FILE = "obj.names"
PREFIX = "data"
RESERVED = frozenset({"classes", "names", "backup"})
PROGRESS_EVERY = 100
VALID_IS_TRAIN = "obj.data: valid names the train list (no val images)"


def subset_name(split: str) -> str:
    """Darknet's name of a split: ``val`` is ``valid``."""
    return "valid" if split == "val" else safe_file_name(split)


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    schema = source.schema
    indices = rows.class_indices(schema)
    namer = FileNamer(unique_stems=True, keep_folders=True, report=ctx.report)
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
                lists[subset] = (out_dir / f"{subset}.txt").open("w", encoding="utf-8",
                                                                 newline="\n")
            name = namer.name(record.item, subset)
            ctx.place_media(record.item, folder / name)
            relative = f"{PREFIX}/{folder.name}/{name}"
            lists[subset].write(f"{_list_line(record.item, folder / name, relative, ctx)}\n")
            text = "".join(f"{row}\n" for row in
                           rows.detect_rows(record, schema=schema, ctx=ctx, indices=indices))
            ctx.files.write_text(folder / f"{file_stem(name)}.txt", text)
            done += 1
            if done % PROGRESS_EVERY == 0:
                ctx.progress(done)
    finally:
        for handle in lists.values():
            handle.close()
    (out_dir / NAMES_FILE).write_text("".join(f"{n}\n" for n in schema.class_names),
                                      encoding="utf-8", newline="\n")
    _write_data(out_dir, classes=len(schema.classes), subsets=list(lists))
    if _valid_is_train(list(lists)):
        ctx.report.count(VALID_IS_TRAIN)
    ctx.progress(done)


def _write_data(out_dir: Path, *, classes: int, subsets: list[str]) -> None:
    lines = [f"classes = {classes}"]
    lines += [f"{key} = {PREFIX}/{subset}.txt" for key, subset in data_lists(subsets)]
    lines += [f"names = {PREFIX}/{NAMES_FILE}", "backup = backup/"]
    (out_dir / DATA_FILE).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8",
                                     newline="\n")


def data_lists(subsets: list[str]) -> list[tuple[str, str]]:
    """``(obj.data key, list)`` for the subsets that have images, train first: a subset without
    images gets no key (Darknet and Ultralytics refuse an empty list). With train images but
    no val images, ``valid`` names the train list, as Darknet's own examples do (counted)."""
    ordered = sorted(subsets, key=lambda s: (s != "train", s != "valid"))
    pairs = [(subset, subset) for subset in ordered]
    if _valid_is_train(subsets):
        pairs.insert(1, ("valid", "train"))
    return pairs


def _valid_is_train(subsets: list[str]) -> bool:
    return "train" in subsets and "valid" not in subsets


def _listed(data_file: Path) -> list[str]:
    """The subsets an ``obj.data`` this module wrote lists, in its order."""
    return [key for key, value in _data_entries(data_file).items()
            if value == f"{PREFIX}/{key}.txt"]


def merge_shards(shards: Sequence[Path], out: Path) -> list[str]:
    """``obj.data`` lists the subsets of every shard, in the order they first came (its
    ``classes`` is the same in every shard); the lists (``.txt``) and every other file merge by
    copying."""
    subsets: dict[str, None] = {}
    for shard in shards:
        subsets.update(dict.fromkeys(_listed(shard / DATA_FILE)))
    first = _data_entries(shards[0] / DATA_FILE)
    _write_data(out, classes=int(first["classes"]), subsets=list(subsets))
    return [DATA_FILE]


def merged_report(merged: Path) -> dict[str, int]:
    """Whether the merged ``obj.data``'s valid names the train list: a fact of the whole."""
    return {VALID_IS_TRAIN: int(_valid_is_train(_listed(merged / DATA_FILE)))}


def _list_line(item: Item, target: Path, relative: str, ctx: WriteContext) -> str:
    """The line naming the image placed at ``target``: ``relative``
    (``data/obj_{subset}_data/{path}``) unless the export asks for absolute paths. One outside
    the export is counted, since Darknet looks for the labels beside it; a line break would
    split the line and is refused."""
    reference = ctx.media_reference(item, target, relative)
    if "\n" in reference or "\r" in reference:
        raise UnsupportedError(f"yolo_darknet cannot list the image of {item.key} at "
                               f"{reference!r}: a line break would split its line; use "
                               "--paths relative")
    inside = PurePosixPath(relative).parts[1:]  # obj_{subset}_data/{path}
    if reference != relative and PurePosixPath(reference).parts[-len(inside):] != inside:
        ctx.report.count("image path outside the export: Darknet looks for its labels "
                         "beside it")
    return reference


# --- reading -----------------------------------------------------------------------------------


def _local(root: Path, value: str) -> Path:
    """A path from obj.data or a list, inside the export: Darknet's ``data/`` prefix is the
    export's own folder."""
    relative = PurePosixPath(value.strip())
    here = root / relative
    if not (is_regular_file(here) or is_folder(here)) and relative.parts[:1] == (PREFIX,):
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


def _absolute_entry(reference: str, labels_dir: Path, extra: ImageFolder | None, *,
                    where: str) -> tuple[Path | None, Path]:
    """The image and label file of a list line that is an absolute path or URL: the image
    where it names, else by name beside the labels or in ``extra``; the labels beside the image
    when it is in the export, else in the export's folder by the image's stem (below it, when
    one sub-folder alone has that stem)."""
    name = reference_name(reference)
    stem = PurePosixPath(name).stem
    nested = sorted(labels_dir.rglob(f"{stem}.txt")) if labels_dir.is_dir() else []
    label = nested[0] if len(nested) == 1 else labels_dir / f"{stem}.txt"
    local = local_reference(reference)
    image = local if local is not None and local.is_file() else None
    image = image or find_image(label.parent / name, extra)
    if image is not None and image.with_suffix(".txt").is_file():
        label = image.with_suffix(".txt")
    if not label.is_file():
        raise InputError(f"{where}: no label file for {reference!r}: neither {label} nor one "
                         "beside the image")
    return image, label


def _item_path(label: Path, image: Path, root: Path) -> str | None:
    """The image's path below its ``obj_{subset}_data/`` folder when its labels are nested
    there (``cam1/a.jpg``); None (the image's file name) otherwise."""
    try:
        parts = label.relative_to(root).parts
    except ValueError:
        return None
    if len(parts) < 3 or not parts[0].startswith("obj_"):
        return None
    return "/".join((*parts[1:-1], image.name))


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
    items: list[tuple[str, Path, Path, str | None]] = []
    read_lists: set[Path] = set()
    for key, value in entries.items():
        if key in RESERVED:
            continue
        split = "val" if key == "valid" else key
        list_file = _local(root, value)
        if list_file in read_lists:  # valid = the train list: its images are read once
            continue
        read_lists.add(list_file)
        labelled_by: dict[Path, int] = {}
        for number, line in enumerate(rows.read_lines(list_file), 1):
            text = line.strip()
            if not text:
                continue
            where = f"{list_file}:{number}"
            if is_absolute_reference(text):
                image, label = _absolute_entry(text, root / f"obj_{list_file.stem}_data", extra,
                                               where=where)
                if label in labelled_by:
                    raise InputError(f"{where}: image {text!r} would take the labels "
                                     f"{label.name} of line {labelled_by[label]}; rename the "
                                     "images apart or export with --paths relative")
                labelled_by[label] = number
            else:
                listed = _local(root, text)
                image, label = find_image(listed, extra), listed.with_suffix(".txt")
            if image is None:
                raise InputError(f"{where}: image {text!r} not found beside its labels nor in "
                                 "the images folder given")
            items.append((split, label, image, _item_path(label, image, root)))

    def records() -> Iterator[ItemRecord]:
        for split, label, image, item_path in items:
            item = image_item(image, item_path)
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
              "with data/; obj.data names only splits with images, valid = the train list "
              "when there are no val images",
    ),
    splits=True,
    media=True,
    writer=write,
    reader=read,
    merge_shards=merge_shards,
    merge_reads=(DATA_FILE,),
    merged_report=merged_report,
)
