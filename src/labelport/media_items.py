"""Items from media files: an image's size from its header, a video probed with PyAV (size,
frames, exact rate, rotation). Sources are local paths or URLs that `MediaAccess` lets this
process open (``http(s)://`` and anything fsspec opens: ``s3://``, ``gs://``...); a remote
video is copied to a temporary file to be probed (containers keep their index at either end),
then removed: the item keeps the URL as its media."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from labelport.domain.model import DEFAULT_DATASET, Item
from labelport.errors import InputError
from labelport.export.media_access import MediaAccess
from labelport.formats._shared.image_files import image_size, is_url
from labelport.video.probe import is_video_name, probe_video

_CHUNK = 1 << 20


def media_item(source: str, *, dataset: str = DEFAULT_DATASET,
               access: MediaAccess | None = None) -> Item:
    """The item of one image or video (by its name's suffix); `InputError` naming the source
    when it cannot be read or is not what its name says."""
    allowed = access or MediaAccess.local()
    if not is_url(source) or urlparse(source).scheme == "file":
        path = Path(unquote(urlparse(source).path)) if is_url(source) else Path(source)
        local = allowed.local_file(path, what=f"media {source!r}")
        return file_item(local, name=path.name, dataset=dataset,
                         media_uri=str(path.absolute()))
    name = PurePosixPath(unquote(urlparse(source).path)).name or "media"
    with tempfile.TemporaryDirectory(prefix="labelport-probe-") as folder:
        copy = Path(folder) / name
        try:
            with allowed.open_url(source, what=f"media {source!r}") as remote, \
                    copy.open("wb") as out:
                shutil.copyfileobj(remote, out, _CHUNK)
        except OSError as error:
            raise InputError(f"{source}: cannot be read ({error})") from None
        try:
            return file_item(copy, name=name, dataset=dataset, media_uri=source)
        except InputError as error:  # name the source, not the temporary copy
            raise InputError(str(error).replace(str(copy), source)) from None


def file_item(file: Path, *, name: str, dataset: str, media_uri: str) -> Item:
    """The item of the local ``file`` (an image, or a video by ``name``'s suffix)."""
    if is_video_name(name):
        found = probe_video(file)
        return Item(dataset=dataset, path=name, width=found.width, height=found.height,
                    media_uri=media_uri, frame_count=found.frame_count, video=found.info)
    width, height = image_size(file)
    return Item(dataset=dataset, path=name, width=width, height=height, media_uri=media_uri)
