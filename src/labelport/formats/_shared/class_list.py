"""Label schemas that come from a file of their own rather than from the labels: the CLI's
``project create --schema`` and the ``schema`` option of readers whose files name no classes
(pixel values in mask PNGs).

Three kinds of file, told apart by name and first line:
- ``*.json``: labelport's schema, ``{"classes": [...], "classifications": [...]}``; classes
  without an ``id`` are numbered from 1 in file order (`load_schema`);
- a ``labelmap.txt`` (``name:r,g,b:parts:actions`` lines, Datumaro's, CVAT's and the mask
  exports' legend), recognised by a first class line with three ``:``; a black ``background``
  line is value 0, not a class;
- otherwise one class name per line: class k (1-based) is pixel value k; a first line
  ``background`` or ``_background_`` (any case) is value 0 and not a class.
In the text files blank lines and lines starting with ``#`` are skipped, names are stripped.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson

from labelport.domain.codec import schema_from_json
from labelport.domain.geometry import GeometryKind
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.errors import InputError
from labelport.formats._shared.input_files import read_bytes, read_text
from labelport.formats.voc.detection import labelmap_classes

_BACKGROUND_NAMES = frozenset({"background", "_background_"})


def load_schema(path: Path) -> LabelSchema:
    """A label schema file: ``{"classes": [...], "classifications": [...]}``; classes without
    an ``id`` are numbered from 1 in file order."""
    try:
        document = orjson.loads(read_bytes(path))
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("classes", []), list):
        raise InputError(f"{path}: expected an object with a list `classes`")
    for position, label_class in enumerate(document.get("classes", []), start=1):
        if isinstance(label_class, dict):
            label_class.setdefault("id", position)
    try:
        return schema_from_json(document)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def read_class_list(path: Path, *, geometry: GeometryKind) -> LabelSchema:
    """The schema a class list file gives, in its order (see the module docstring). Classes of
    the text files get ``geometry``; a JSON schema keeps its own. No class, or a name twice, is
    an `InputError` naming the file."""
    if path.suffix.lower() == ".json":
        schema = load_schema(path)
    else:
        text = read_text(path)
        names = [line.strip() for line in text.splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
        if names and names[0].count(":") >= 3:
            classes = labelmap_classes(path)
        else:
            if names and names[0].casefold() in _BACKGROUND_NAMES:
                names = names[1:]
            classes = [LabelClass(id=k, name=n) for k, n in enumerate(names, start=1)]
        schema = LabelSchema(classes=tuple(replace(c, geometry=geometry) for c in classes))
    if not schema.classes:
        raise InputError(f"{path}: the class list has no class")
    seen: set[str] = set()
    for name in schema.class_names:
        if name in seen:
            raise InputError(f"{path}: class {name!r} is listed twice")
        seen.add(name)
    return schema
