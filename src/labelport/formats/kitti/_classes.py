"""Class names as KITTI writes them, for both layouts: one token per class (KITTI separates
fields, and Datumaro's ``label_colors.txt`` columns, with white space) and ``classes.tsv``, which
maps each token back to its class name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from labelport.domain.schema import LabelSchema
from labelport.errors import InputError, UnsupportedError
from labelport.formats._shared.text_input import read_utf8

CLASSES_FILE = "classes.tsv"
_CLASSES_HEADER = "type\tname"
_WHITESPACE = re.compile(r"\s+")


def kitti_type(name: str) -> str:
    """A class name as one KITTI token: each run of white space becomes ``_``."""
    return _WHITESPACE.sub("_", name.strip()) or "_"


def class_types(schema: LabelSchema, *, format_name: str) -> dict[str, str]:
    """class name -> KITTI type in schema order, refusing two classes that would share a type
    and names with a line break."""
    types: dict[str, str] = {}
    owner: dict[str, str] = {}
    for cls in schema.classes:
        if "\n" in cls.name or "\r" in cls.name:
            raise UnsupportedError(f"{format_name} cannot write class {cls.name!r}: a class "
                                   "name with a line break; rename the class")
        type_ = kitti_type(cls.name)
        if type_ in owner:
            raise UnsupportedError(
                f"{format_name} cannot tell classes {owner[type_]!r} and {cls.name!r} apart: "
                f"both are written as {type_!r} (white space becomes '_'); rename one of them")
        owner[type_] = cls.name
        types[cls.name] = type_
    return types


def classes_tsv(types: Mapping[str, str]) -> str:
    """``classes.tsv``: a header, then ``type<TAB>name`` per class in schema order."""
    return "".join(f"{line}\n" for line in [_CLASSES_HEADER, *(
        f"{type_}\t{name}" for name, type_ in types.items())])


def read_class_names(path: Path) -> dict[str, str]:
    """KITTI type -> class name from ``classes.tsv``, in the file's order."""
    text = read_utf8(path)
    names: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if number == 1 and line == _CLASSES_HEADER:
            continue
        type_, tab, name = line.partition("\t")
        if not tab or not type_:
            raise InputError(f"{path}: line {number}: expected 'type<TAB>name', got {line!r}")
        names[type_] = name
    return names
