"""Opening the files a reader is given, the same careful way in every format: only regular
files (a folder, a FIFO, a device or a symlink loop where a file should be is an `InputError`,
never a hang on a FIFO or an endless read of ``/dev/zero``), text decoded with a declared
encoding (bad bytes name the file, line and byte offset), images opened with a pixel limit and
every Pillow error caught, and counts read from a file bounded before anything is allocated
for them.

Readers read through these helpers instead of ``Path.read_text``/``read_bytes``/``open`` and
``Image.open``; the fuzz test (`tests/formats/test_fuzz.py`) holds every registered reader to
it."""

from __future__ import annotations

import errno
import os
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from labelport.errors import InputError
from labelport.export.media_access import may_read, readable

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_IMAGE_PIXELS = 1 << 28
"""The largest image a reader decodes or takes the size of (268M pixels, e.g. 16384x16384): a
header declaring more is refused before any pixel is allocated."""

MAX_COUNT = 1_000_000
"""The largest count a label file may declare (classes, keypoints per object, ...): beyond it
the file is refused before a list of that size is made."""


def os_error(path: Path, error: OSError) -> InputError:
    """``error`` (raised while opening or reading ``path``) as one line naming the file."""
    reasons = {errno.ELOOP: "a symlink loop", errno.ENAMETOOLONG: "a name too long",
               errno.EISDIR: "a folder, expected a file", errno.ENOENT: "no such file"}
    reason = reasons.get(error.errno or 0, error.strerror or str(error))
    return InputError(f"{path}: {reason}")


def regular_file(path: Path) -> Path:
    """``path`` when it is a regular file (after following symlinks); otherwise an `InputError`
    saying what is there instead. In an import on the server, a file outside the upload is
    refused before it is looked at (`labelport.export.media_access.reads_confined_to`)."""
    readable(path, what="file")
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise os_error(path, error) from None
    except ValueError:  # a NUL byte in the name
        raise InputError(f"{str(path)!r}: a NUL byte in a file name") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: a folder, expected a file")
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file (a device, FIFO or socket), expected a "
                         "file")
    return path


def is_regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file; False (not an error) for a name too long, a symlink
    loop or a path through a file, which `Path.is_file` raises for some of; False, without
    looking, for a file outside an import's upload on the server (`reads_confined_to`)."""
    if not may_read(path):
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):  # ValueError: a NUL byte in the name
        return False


def is_folder(path: Path) -> bool:
    """Whether ``path`` is a folder; False (not an error) where `is_regular_file` says so."""
    if not may_read(path):
        return False
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


@contextmanager
def open_binary(path: Path) -> Iterator[IO[bytes]]:
    """``path`` opened for reading bytes (streaming readers), after `regular_file`; an
    `OSError` while reading is an `InputError` naming the file."""
    regular_file(path)
    try:
        with path.open("rb") as handle:
            yield handle
    except OSError as error:
        raise os_error(path, error) from None


def read_bytes(path: Path) -> bytes:
    """The bytes of the regular file ``path``."""
    with open_binary(path) as handle:
        return handle.read()


def decode_text(raw: bytes, origin: Path | str, encoding: str = "utf-8") -> str:
    """``raw`` decoded as ``encoding``; bad bytes are an `InputError` with the line and the
    byte offset of the first one."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise InputError(f"{origin}: line {line} (byte {error.start}): not valid {encoding} "
                         f"({error.reason})") from None


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """The text of the regular file ``path`` in ``encoding`` (``utf-8-sig`` drops a BOM)."""
    return decode_text(read_bytes(path), path, encoding)


def read_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    """`read_text` split into lines (without their endings)."""
    return read_text(path, encoding).splitlines()


def bounded_count(value: int, what: str, origin: Path | str, limit: int = MAX_COUNT) -> int:
    """``value`` when ``0 <= value <= limit``; a count that would allocate without bound (a
    40-byte ``data.yaml`` declaring ``kpt_shape: [99999999, 3]``) is an `InputError`."""
    if not 0 <= value <= limit:
        raise InputError(f"{origin}: {what} {value} is out of range (0 to {limit:,})")
    return value


IMAGE_ERRORS: tuple[type[Exception], ...] = (OSError, SyntaxError, ValueError, TypeError,
                                             EOFError, IndexError, KeyError, ZeroDivisionError,
                                             MemoryError, struct.error)
"""What Pillow raises for a malformed image besides its own errors: ``SyntaxError`` for a broken
PNG chunk, ``ValueError`` for an oversized text chunk, ``struct.error`` and ``EOFError`` for a
cut header, ``MemoryError`` for a chunk length of gigabytes read at once (under a memory
limit), the rest from plugins parsing fields they did not check."""


@contextmanager
def open_image(source: Path | IO[bytes], origin: Path | str | None = None) -> Iterator[Image]:
    """The image in ``source`` (a regular file, or bytes as a file object), opened lazily with
    `MAX_IMAGE_PIXELS` checked against its header. Any Pillow error raised while it is open -
    also while the block decodes its pixels - is an `InputError` naming ``origin`` (the file by
    default); errors of the block's own (`InputError`s) pass through."""
    from PIL import Image as PILImage

    shown = origin if origin is not None else source
    if isinstance(source, Path):
        regular_file(source)
    try:
        with PILImage.open(source) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise InputError(f"{shown}: the image declares {width}x{height} pixels, over the "
                                 f"limit of {MAX_IMAGE_PIXELS:,}")
            yield image
    except InputError:
        raise
    except PILImage.DecompressionBombError as error:
        raise InputError(f"{shown}: the image declares more pixels than labelport decodes "
                         f"({error})") from None
    except IMAGE_ERRORS as error:
        raise InputError(f"{shown}: not a readable image ({type(error).__name__}: "
                         f"{error})") from None
