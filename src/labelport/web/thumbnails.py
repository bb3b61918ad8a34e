"""Thumbnails made on demand, bounded and cached: the grid of items never loads a full image.

An item's image is opened only through the media access policy of its project
(`labelport.export.media_access`): a path or URL the operator did not allow is refused before a
byte is read. A thumbnail is cached as a JPEG under the cache folder, named by the hash of the
source (its resolved path, size and modification time, or its URL) and the size asked, so a
changed file gets a new thumbnail. Only ``concurrency`` thumbnails are made at once, and an
image over `MAX_SOURCE_PIXELS` is refused rather than decoded."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps

from labelport.domain.model import Item
from labelport.errors import InputError, NotFoundError
from labelport.export.media import local_media_path
from labelport.export.media_access import MediaAccess
from labelport.web.video import first_frame

SIDES = {"thumb": 320, "large": 1600}
"""The sizes served: grid tiles, and the item page's picture (longer side, pixels)."""
MAX_SOURCE_PIXELS = 150_000_000
MAX_REMOTE_BYTES = 200 << 20


class Thumbnails:
    def __init__(self, cache_dir: Path, *, concurrency: int = 2) -> None:
        self.cache_dir = cache_dir
        self._slots = threading.BoundedSemaphore(concurrency)

    def get(self, item: Item, access: MediaAccess, *, size: str = "thumb") -> Path:
        """The cached JPEG of ``item`` at ``size`` (made now if missing)."""
        side = SIDES[size]
        what = f"media of {item.key}"
        source = local_media_path(item)
        if source is not None:
            source = access.local_file(source, what=what)
            try:
                stat = source.stat()
            except OSError:
                raise NotFoundError(f"{what}: no file at {str(source)!r}") from None
            cached = self._cached(f"{source}|{stat.st_size}|{stat.st_mtime_ns}|{side}")
            if not cached.is_file() and item.is_video:  # its first frame
                with self._slots:
                    picture = first_frame(source, item.video.rotation_deg if item.video else 0)
                    picture.thumbnail((side, side))
                    _save(picture.convert("RGB"), cached)
            elif not cached.is_file():
                with self._slots, open(source, "rb") as stream:
                    _make(stream, cached, side=side, what=what)
            return cached
        if item.is_video:
            raise NotFoundError(f"{what}: thumbnails of remote videos are not made")
        if not item.media_uri:
            raise NotFoundError(f"item {item.key} has no image")
        cached = self._cached(f"{item.media_uri}|{side}")
        if not cached.is_file():
            with self._slots, access.open_url(item.media_uri, what=what) as stream:
                data = stream.read(MAX_REMOTE_BYTES + 1)
                if len(data) > MAX_REMOTE_BYTES:
                    raise InputError(f"{what}: over {MAX_REMOTE_BYTES >> 20} MB")
                _make(io.BytesIO(data), cached, side=side, what=what)
        return cached

    def _cached(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}.jpg"


def _make(stream: IO[bytes], target: Path, *, side: int, what: str) -> None:
    """Decode at most what a ``side``-pixel picture needs (JPEG draft mode) and write the
    thumbnail aside, then rename it into place (two requests never see half a file)."""
    try:
        with Image.open(stream) as image:
            if image.width * image.height > MAX_SOURCE_PIXELS:
                raise InputError(f"{what}: {image.width}x{image.height} pixels is over the "
                                 f"{MAX_SOURCE_PIXELS:,} a thumbnail is made from")
            image.draft("RGB", (side, side))
            picture = ImageOps.exif_transpose(image)
            picture.thumbnail((side, side))
            picture = picture.convert("RGB")
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        raise InputError(f"{what}: not an image labelport can show ({exc})") from None
    _save(picture, target)


def _save(picture: Image.Image, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
    picture.save(partial, format="JPEG", quality=82)
    os.replace(partial, target)
