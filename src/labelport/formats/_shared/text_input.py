"""Small text files a reader opens (class lists, colour maps): read as UTF-8, with labelport's
own error naming the file when they cannot be read or are not UTF-8."""

from __future__ import annotations

from pathlib import Path

from labelport.errors import InputError


def read_utf8(path: Path) -> str:
    """The text of ``path``; `InputError` naming it when unreadable or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: expected UTF-8 text") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
