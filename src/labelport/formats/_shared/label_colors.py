"""Class files of the segmentation layouts Datumaro reads (KITTI, Cityscapes) and of KITTI's
labels: ``label_colors.txt`` (``r g b name`` a line, the line's position the pixel value, the
background first) and ``classes.tsv``, which maps each class's token back to its name.

Both Datumaro's ``label_colors.txt`` and KITTI's label lines split on white space, so a class is
written as a token: each run of white space becomes ``_`` (`class_token`); two classes with the
same token, or a name with a line break, are refused."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from labelport.domain.geometry import GeometryKind
from labelport.domain.masks import bitmap_to_rle
from labelport.domain.model import Annotation
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.input_files import read_lines
from labelport.formats._shared.raster import class_colors

LABEL_COLORS_FILE = "label_colors.txt"
CLASSES_FILE = "classes.tsv"
BACKGROUND = "background"
_CLASSES_HEADER = "type\tname"
_WHITESPACE = re.compile(r"\s+")


def class_token(name: str) -> str:
    """A class name as one token: each run of white space becomes ``_``."""
    return _WHITESPACE.sub("_", name.strip()) or "_"


def class_tokens(schema: LabelSchema, *, format_name: str) -> dict[str, str]:
    """class name -> token in schema order, refusing two classes that would share a token and
    names with a line break."""
    tokens: dict[str, str] = {}
    owner: dict[str, str] = {}
    for cls in schema.classes:
        if "\n" in cls.name or "\r" in cls.name:
            raise UnsupportedError(f"{format_name} cannot write class {cls.name!r}: a class "
                                   "name with a line break; rename the class")
        token = class_token(cls.name)
        if token in owner:
            raise UnsupportedError(
                f"{format_name} cannot tell classes {owner[token]!r} and {cls.name!r} apart: "
                f"both are written as {token!r} (white space becomes '_'); rename one of them")
        owner[token] = cls.name
        tokens[cls.name] = token
    return tokens


def classes_tsv(tokens: Mapping[str, str]) -> str:
    """``classes.tsv``: a header, then ``type<TAB>name`` per class in schema order."""
    return "".join(f"{line}\n" for line in [_CLASSES_HEADER, *(
        f"{token}\t{name}" for name, token in tokens.items())])


def read_class_names(path: Path) -> dict[str, str]:
    """token -> class name from ``classes.tsv``, in the file's order."""
    names: dict[str, str] = {}
    for number, line in enumerate(read_lines(path), start=1):
        if number == 1 and line == _CLASSES_HEADER:
            continue
        token, tab, name = line.partition("\t")
        if not tab or not token:
            raise InputError(f"{path}: line {number}: expected 'type<TAB>name', got {line!r}")
        names[token] = name
    return names


def label_colors_text(tokens: Sequence[str], colors: Sequence[tuple[int, int, int]]) -> str:
    """``label_colors.txt`` as Datumaro writes it: background first, so a line's position is
    its pixel value."""
    lines = [f"0 0 0 {BACKGROUND}"] + [f"{r} {g} {b} {t}"
                                       for t, (r, g, b) in zip(tokens, colors, strict=True)]
    return "".join(f"{line}\n" for line in lines)


def class_rgb_ids(schema: LabelSchema) -> list[int]:
    """Each class's colour (`class_colors`) as the id `raster`'s ``rgb_id`` encoding paints
    back as that colour (``r + 256 g + 65536 b``), for the colour PNGs."""
    return [r + 256 * g + 65536 * b for r, g, b in class_colors(schema)]


def write_class_files(out_dir: Path, schema: LabelSchema, *, format_name: str) -> None:
    """``label_colors.txt`` with each class's colour (`class_colors`) and ``classes.tsv``."""
    tokens = class_tokens(schema, format_name=format_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / LABEL_COLORS_FILE).write_text(
        label_colors_text(list(tokens.values()), class_colors(schema)), encoding="utf-8",
        newline="\n")
    (out_dir / CLASSES_FILE).write_text(classes_tsv(tokens), encoding="utf-8", newline="\n")


def _label_colors(path: Path, *, limit: int) -> list[tuple[str, str | None]]:
    """The tokens of ``label_colors.txt`` in value order (line 1: background), each with its
    colour as ``#rrggbb`` when the line gives one."""
    tokens: list[tuple[str, str | None]] = []
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) not in (1, 4) or (len(fields) == 4 and not all(
                f.isdigit() and len(f) <= 3 and int(f) < 256 for f in fields[:3])):
            raise InputError(f"{path}: line {number}: expected 'r g b name' or 'name', got "
                             f"{line!r}")
        if any(fields[-1] == known for known, _ in tokens):
            raise InputError(f"{path}: line {number}: class {fields[-1]!r} is listed twice")
        color = "#" + "".join(f"{int(v):02x}" for v in fields[:3]) if len(fields) == 4 else None
        tokens.append((fields[-1], color))
    if len(tokens) > limit + 1:
        raise InputError(f"{path}: {len(tokens) - 1} classes; at most {limit} fit")
    return tokens


def read_class_files(root: Path, *, limit: int, largest: int) -> LabelSchema:
    """The mask classes of value 1, 2, ...: ``label_colors.txt``'s lines after the background
    (their colours kept), names through ``classes.tsv``; without ``label_colors.txt``,
    ``class_1`` .. ``class_<largest>`` (the largest value found)."""
    colors_file, classes_file = root / LABEL_COLORS_FILE, root / CLASSES_FILE
    if colors_file.is_file():
        tokens = _label_colors(colors_file, limit=limit)[1:]
    else:
        tokens = [(f"class_{k}", None) for k in range(1, min(largest, limit) + 1)]
    named = read_class_names(classes_file) if classes_file.is_file() else {}
    return LabelSchema(classes=tuple(
        LabelClass(id=k, name=named.get(token, token), geometry=GeometryKind.MASK, color=color)
        for k, (token, color) in enumerate(tokens, start=1)))


def label_map_objects(file: Path, values: np.ndarray, names: Sequence[str], *,
                      decode: Callable[[int], tuple[int, int | None]],
                      crowd_without_instance: bool) -> list[Annotation]:
    """The objects of a label map whose classes ``label_colors.txt`` lists: each distinct
    non-zero value is one object, its class value and instance number given by ``decode`` (each
    layout packs them its own way); a value without an instance number is a crowd where
    ``crowd_without_instance``."""
    objects: list[Annotation] = []
    for value in (int(v) for v in np.unique(values)):
        class_value, n = decode(value)
        if class_value == 0:
            continue
        if class_value > len(names):
            raise InputError(f"{file}: class value {class_value} has no line in "
                             f"{LABEL_COLORS_FILE} ({len(names)} classes)")
        objects.append(Annotation(label=names[class_value - 1], instance_id=n,
                                  geometry=bitmap_to_rle(values == value),
                                  crowd=crowd_without_instance and n is None))
    return objects
