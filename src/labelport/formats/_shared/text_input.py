"""Small text files a reader opens (class lists, colour maps): read as UTF-8, with labelport's
own error naming the file when they cannot be read or are not UTF-8."""

from __future__ import annotations

from pathlib import Path

from labelport.formats._shared.input_files import read_text


def read_utf8(path: Path) -> str:
    """The text of ``path``; `InputError` naming it when it is not a regular file, cannot be
    read or is not UTF-8 (with the line and byte offset): `input_files.read_text`."""
    return read_text(path)
