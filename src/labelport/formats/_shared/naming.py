"""Output file names for items: the original names (unicode included), made unique per folder
deterministically, so two items called ``a.jpg`` in different datasets both survive."""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePosixPath

from labelport.domain.model import Item

_FORBIDDEN = str.maketrans({"/": "_", "\\": "_", "\0": "_", ":": "_"})


def safe_file_name(name: str) -> str:
    """A single path segment: no separators, never ``.`` or ``..``, never empty."""
    cleaned = name.translate(_FORBIDDEN).strip()
    if cleaned in ("", ".", ".."):
        return "_" + cleaned.replace(".", "_")
    return cleaned


def file_stem(name: str) -> str:
    """``PurePosixPath(name).stem`` of a single file name (the name without its last suffix;
    ``.bashrc`` and ``a.`` have none), without building a path object for every image."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


class FileNamer:
    """Gives each item a file name unique within its folder.

    The first item to claim a name keeps it; a later item with the same name in the same folder
    gets its dataset, then a counter, before the extension (``a__field.jpg``, ``a__field-2.jpg``).
    Records stream in a stable order, so the same export always names the same way.

    With ``unique_stems`` the names differ by stem too (``a.jpg`` then ``a.png`` gives
    ``a__field.png``), for layouts that name a label file after its image's stem (VOC, KITTI,
    YOLO)."""

    def __init__(self, *, unique_stems: bool = False) -> None:
        self._taken: defaultdict[str, set[str]] = defaultdict(set)
        self._key = _stem_key if unique_stems else str.casefold

    def name(self, item: Item, folder: str = "") -> str:
        taken = self._taken[folder]
        original = safe_file_name(item.file_name)
        candidate = original
        if self._key(candidate) in taken:
            path = PurePosixPath(original)
            stem = f"{path.stem}__{safe_file_name(item.dataset)}"
            candidate = f"{stem}{path.suffix}"
            counter = 2
            while self._key(candidate) in taken:
                candidate = f"{stem}-{counter}{path.suffix}"
                counter += 1
        taken.add(self._key(candidate))
        return candidate


def _stem_key(name: str) -> str:
    return file_stem(name).casefold()
