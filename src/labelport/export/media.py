"""The media stage: puts an item's image where the export's layout wants it, by copying or
linking, or not at all. Sources are local paths or ``file://`` URIs; a missing file is counted
and reported, never a silent gap."""

from __future__ import annotations

import enum
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from labelport.domain.model import Item
from labelport.formats.base import MediaPlacer, Report, no_media


class MediaMode(enum.StrEnum):
    NONE = "none"
    COPY = "copy"
    SYMLINK = "symlink"


def local_media_path(item: Item) -> Path | None:
    """The item's image on this machine, or None when its URI is not a local file."""
    uri = item.media_uri
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme in ("", ) or len(parsed.scheme) == 1:  # plain path, or a Windows drive
        return Path(uri)
    return None


def media_placer(mode: MediaMode, report: Report) -> MediaPlacer:
    """The callable a writer uses to place images, for the export's media mode."""
    if mode is MediaMode.NONE:
        return no_media

    def place(item: Item, target: Path) -> None:
        source = local_media_path(item)
        if source is None or not source.is_file():
            report.count("media missing")
            report.warn(f"media of {item.key} not found at {item.media_uri!r}")
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode is MediaMode.COPY:
            shutil.copyfile(source, target)
        else:
            os.symlink(source.resolve(), target)

    return place
