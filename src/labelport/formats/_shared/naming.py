"""Output file names for items: the original names or paths (unicode included), made unique per
folder deterministically, so two items called ``a.jpg`` in different datasets both survive, and
every renaming recorded for the manifest."""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePosixPath

from labelport.domain.model import Item
from labelport.formats.base import Report

_FORBIDDEN = str.maketrans({"/": "_", "\\": "_", "\0": "_", ":": "_"})


def safe_file_name(name: str) -> str:
    """A single path segment: no separators, never ``.`` or ``..``, never empty."""
    cleaned = name.translate(_FORBIDDEN).strip()
    if cleaned in ("", ".", ".."):
        return "_" + cleaned.replace(".", "_")
    return cleaned


def file_stem(name: str) -> str:
    """``PurePosixPath(name).stem`` of a file name, keeping the folders of a relative path
    (``cam1/a.jpg`` gives ``cam1/a``; ``.bashrc``, ``a.`` and ``v1.2/a`` have no suffix to
    drop), without building a path object for every image."""
    dot = name.rfind(".")
    return name[:dot] if name.rfind("/") + 1 < dot < len(name) - 1 else name


class FileNamer:
    """Gives each item a file name unique within its folder.

    With ``keep_folders`` the name is the item's path inside its dataset (``a/frame_001.jpg``,
    each segment made safe), so a layout that can nest mirrors the user's image tree; without,
    it is the item's file name. The first item to claim a name keeps it; a later item with the
    same name in the same folder gets its dataset, then a counter, before the extension
    (``a__field.jpg``, ``a__field-2.jpg``). Records stream in a stable order, so the same export
    always names the same way.

    With ``unique_stems`` the names differ by stem too (``a.jpg`` then ``a.png`` gives
    ``a__field.png``), for layouts that name a label file after its image's stem (VOC, KITTI,
    YOLO). With a ``report``, every name that is not the item's path is recorded in it
    (`Report.rename`), for the manifest."""

    def __init__(self, *, unique_stems: bool = False, keep_folders: bool = False,
                 report: Report | None = None) -> None:
        self._taken: defaultdict[str, set[str]] = defaultdict(set)
        self._key = _stem_key if unique_stems else str.casefold
        self._keep_folders = keep_folders
        self._report = report

    def name(self, item: Item, folder: str = "") -> str:
        taken = self._taken[folder]
        original = safe_path(item.path) if self._keep_folders else safe_file_name(item.file_name)
        candidate = original
        if self._key(candidate) in taken:
            parent, _, last = original.rpartition("/")
            path = PurePosixPath(last)
            stem = f"{parent}/{path.stem}" if parent else path.stem
            stem = f"{stem}__{safe_file_name(item.dataset)}"
            candidate = f"{stem}{path.suffix}"
            counter = 2
            while self._key(candidate) in taken:
                candidate = f"{stem}-{counter}{path.suffix}"
                counter += 1
        taken.add(self._key(candidate))
        if self._report is not None and candidate != item.path:
            self._report.rename(item.dataset, item.path, candidate)
        return candidate


def safe_path(path: str) -> str:
    """A relative path inside an export folder: each segment made safe (`safe_file_name`), empty
    segments dropped, so ``..``, a leading ``/`` or a drive never leave the folder."""
    segments = [safe_file_name(s) for s in path.replace("\\", "/").split("/") if s]
    return "/".join(segments) or safe_file_name(path)


def _stem_key(name: str) -> str:
    return file_stem(name).casefold()
