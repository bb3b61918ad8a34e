"""Image files for readers: find the image a label file belongs to, read its size from the
file's header without decoding pixels, as a viewer shows it (EXIF orientation applied), and
understand the image paths an export with ``--paths absolute`` writes (absolute paths, URLs)."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from labelport.domain.model import DEFAULT_DATASET, Item
from labelport.export.media_access import may_read, readable
from labelport.formats._shared.input_files import is_regular_file, open_image

IMAGE_SUFFIXES = frozenset({".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff",
                            ".webp", ".pfm", ".heic"})
"""Ultralytics' image suffixes (``IMG_FORMATS``), lower case."""


_TRANSPOSED_ORIENTATIONS = frozenset({5, 6, 7, 8})
"""EXIF orientations that rotate by 90 degrees (with or without a mirror): the stored pixels are
``height x width`` of the upright image every viewer and training loader shows."""


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of the upright image, from the file's header: Pillow opens lazily and
    reads EXIF from the header, so no pixel is decoded. Width and height are swapped for EXIF
    orientations 5-8, because annotations are drawn on the image as shown, not as stored. A PNG's
    EXIF is read only from an eXIf chunk before the pixels (where the PNG specification's third
    edition puts it): Pillow would decode every pixel to look for one after them."""
    from PIL import ExifTags  # imported by the readers that look

    path = readable(path, what="image")  # an import in the service reads only its upload
    with open_image(path) as image:
        width, height = image.size
        if image.format == "PNG" and "exif" not in image.info:
            orientation = None
        else:
            orientation = image.getexif().get(ExifTags.Base.Orientation)
    if orientation in _TRANSPOSED_ORIENTATIONS:
        return height, width
    return width, height


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(reference: str) -> bool:
    """``scheme://...``: what ``--paths absolute`` writes for media it did not copy and whose
    source is remote (``https://``, ``s3://``), or a ``file://`` URI as the item had it."""
    return _URL.match(reference) is not None


def is_absolute_reference(reference: str) -> bool:
    """An absolute path or a URL, as opposed to a name relative to the annotation file."""
    return is_url(reference) or PurePosixPath(reference).is_absolute()


def local_reference(reference: str) -> Path | None:
    """The local file an absolute path or ``file://`` URL names; None for a relative name, a
    remote URL, or a file an import in the service may not read (`reads_confined_to`)."""
    if is_url(reference):
        parsed = urlparse(reference)
        path = Path(unquote(parsed.path))
        return path if parsed.scheme == "file" and may_read(path) else None
    path = Path(reference)
    return path if path.is_absolute() and may_read(path) else None


def reference_name(reference: str) -> str:
    """The file name an image reference ends with (a URL's decoded, without query)."""
    if is_url(reference):
        return PurePosixPath(unquote(urlparse(reference).path)).name
    return PurePosixPath(reference).name


def image_item(image: Path, path: str | None = None) -> Item:
    """The item of an image file: dataset ``default``, ``path`` (its place below the layout's
    image folder, ``a/frame_001.jpg``; by default the file name), the size from its header, the
    file as media."""
    width, height = image_size(image)
    return Item(dataset=DEFAULT_DATASET, path=path or image.name, width=width, height=height,
                media_uri=str(image.absolute()))


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and is_regular_file(path)


class ImageFolder:
    """The images directly in a folder, found by stem (``a`` finds ``a.jpg``); with
    ``recursive``, those below it too, by their stem's path inside it (``cam1/a`` finds
    ``cam1/a.jpg``), for layouts that mirror an image tree."""

    def __init__(self, folder: Path, *, recursive: bool = False) -> None:
        self.folder = folder
        self._by_stem: dict[str, Path] = {}
        if folder.is_dir():
            found = folder.rglob("*") if recursive else folder.iterdir()
            for path in sorted(found):
                if is_image(path):
                    stem = path.relative_to(folder).with_suffix("").as_posix()
                    self._by_stem.setdefault(stem, path)

    def stems(self) -> list[str]:
        return list(self._by_stem)

    def find(self, stem: str) -> Path | None:
        return self._by_stem.get(stem)


def find_image(path: Path, fallback: ImageFolder | None) -> Path | None:
    """``path`` when that file exists, else the image with its stem in ``fallback`` (the folder
    a reader's ``images`` option names); None when neither has it."""
    if readable_file(path):
        return path
    return fallback.find(path.stem) if fallback is not None else None


def readable_file(path: Path) -> bool:
    """``path`` is a file a reader may open: never probed outside an import's upload in the
    service (`reads_confined_to`), so an upload cannot ask which server files exist."""
    return may_read(path) and is_regular_file(path)
