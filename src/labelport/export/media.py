"""The media stage: puts an item's image where the export's layout wants it, by copying or
linking, or not at all, and says which path a writer puts in its annotation files.

Sources are local paths and ``file://`` URIs (copied with the fast local path), or any URL
fsspec opens: ``http(s)://`` (needs the ``http`` extra, aiohttp), ``s3://``, ``gs://`` (their
fsspec packages, s3fs and gcsfs). A source that cannot be read is counted (``media missing``)
and reported, never a silent gap; a remote source cannot be linked, so ``symlink`` copies it and
counts that. Sizes always come from the store: nothing here decodes an image. A video frame
(`FrameItem`, from the frames stage) is decoded from its local video and written as an image,
in every media mode but ``none`` (`labelport.export.frames`); an export passes a `FramePool`,
which extracts several videos' frames at once (`labelport.export.frame_pool`), and waits for it
before anything reads the files.

Every source passes the export's `MediaAccess` first: in the service, a medium outside the
operator's media roots fails the export with an error naming the item, before it is opened."""

from __future__ import annotations

import enum
import http.client
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from labelport.domain.frames import FrameItem
from labelport.domain.model import Item
from labelport.errors import InputError
from labelport.export.frame_pool import FramePool
from labelport.export.frames import FrameExtractor
from labelport.export.media_access import MediaAccess
from labelport.formats.base import MediaPlacer, MediaReference, Report, no_media, relative_reference

_CHUNK = 1 << 20


class MediaMode(enum.StrEnum):
    NONE = "none"
    COPY = "copy"
    SYMLINK = "symlink"


class PathMode(enum.StrEnum):
    """How annotation files name images: as the format's layout does, relative to the file that
    names them (default), or absolute: the image's path in the published export folder, or,
    without media, where the source is (its absolute local path, or its URL as it is)."""

    RELATIVE = "relative"
    ABSOLUTE = "absolute"


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


def media_placer(mode: MediaMode, report: Report, access: MediaAccess | None = None, *,
                 frames: FrameExtractor | FramePool | None = None) -> MediaPlacer:
    """The callable a writer uses to place images, for the export's media mode; ``access``
    (default: the user's own machine) decides which sources may be read. Video frames go to
    ``frames`` (default: extracted at once, in the caller's thread); a `FramePool` writes them
    later, so its owner closes it before the files are read."""
    if mode is MediaMode.NONE:
        return no_media
    allowed = access or MediaAccess.local()
    frames = frames or FrameExtractor()

    def place(item: Item, target: Path) -> None:
        source = local_media_path(item)
        if source is not None:
            source = allowed.local_file(source, what=f"media of {item.key}")
        if source is not None and not source.is_file():
            _missing(report, item, "not found")
        elif source is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(item, FrameItem):
                frames.place(item, source, target)
                if mode is MediaMode.SYMLINK:
                    report.count("media copied: a video frame is extracted, not linked")
            elif mode is MediaMode.COPY:
                shutil.copyfile(source, target)
            else:
                os.symlink(source.resolve(), target)
        elif not item.media_uri:
            _missing(report, item, "no media URI")
        elif isinstance(item, FrameItem):
            _missing(report, item, "frames are extracted from local videos only")
        elif _download(item, item.media_uri, target, report, allowed) \
                and mode is MediaMode.SYMLINK:
            report.count("media copied: a remote source cannot be linked")

    return place


def media_referencer(mode: MediaMode, paths: PathMode, *, staging: Path,
                     published: Path, report: Report) -> MediaReference:
    """The callable a writer uses to name an image in its annotation files.

    ``staging`` is the folder the writer writes into and ``published`` the folder it becomes, so
    an absolute path points where the image will be, not where it is being written."""
    if paths is PathMode.RELATIVE:
        return relative_reference
    if mode is not MediaMode.NONE:
        def in_export(item: Item, target: Path, relative: str) -> str:
            return str(published / target.relative_to(staging))

        return in_export

    def at_source(item: Item, target: Path, relative: str) -> str:
        local = local_media_path(item)
        if local is not None:
            return str(local.absolute())
        if item.media_uri:
            return item.media_uri
        report.count("relative image path written: item has no media URI")
        return relative

    return at_source


def _download(item: Item, uri: str, target: Path, report: Report, access: MediaAccess) -> bool:
    """Copy a remote source (fsspec, or the guarded http client of the service); False
    (counted) when it cannot be read. A partial file never stays behind."""
    try:
        with access.open_url(uri, what=f"media of {item.key}") as source:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                shutil.copyfileobj(source, out, _CHUNK)
    except ImportError as error:
        target.unlink(missing_ok=True)
        raise InputError(f"media of {item.key} is at {uri!r}, whose scheme needs a package that "
                         f"is not installed ({error}); install labelport[http] for http(s) URLs, "
                         "s3fs for s3://, gcsfs for gs://") from None
    except _remote_errors() as error:
        target.unlink(missing_ok=True)
        _missing(report, item, f"unreadable ({type(error).__name__}: {error})")
        return False
    return True


def _remote_errors() -> tuple[type[Exception], ...]:
    """What reading one remote file raises when that file, not the export, is at fault: a
    missing file, a refused connection, an unknown scheme, an HTTP error status."""
    errors: tuple[type[Exception], ...] = (OSError, ValueError, http.client.HTTPException)
    try:
        from aiohttp import ClientError
    except ImportError:
        return errors
    return (*errors, ClientError)


def _missing(report: Report, item: Item, why: str) -> None:
    report.count("media missing")
    report.warn(f"media of {item.key} at {item.media_uri!r}: {why}")
