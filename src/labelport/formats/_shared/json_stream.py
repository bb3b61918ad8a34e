"""Reading a JSON file's top-level object a piece at a time, so a file of gigabytes (a COCO file
of 10M annotations) is decoded with msgspec's typed decoders without ever being held whole.

The file is read forward through a window of about `CHUNK` bytes. A value's extent is found by
msgspec itself: decoded as `msgspec.Raw` from a window that holds it and what follows, it
stops with "trailing characters (byte N)", which is where the value ends (a window too short
is grown). An array's elements are decoded in batches: the window is cut after the last ``}``
followed by ``,`` or ``]``, and ``[`` + that slice + ``]`` is decoded as a list of the element
type. A cut that falls inside a nested object or a string makes that slice invalid JSON, so a
batch that decodes was cut between two elements; after a few invalid cuts the elements of that
window are found one at a time, as above. Errors name the file and the JSON path (a value of
the wrong type), or the byte offset in the file (not JSON), as `json_input` names them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any, TypeVar, overload

import msgspec

from labelport.errors import InputError
from labelport.formats._shared.input_files import open_binary
from labelport.formats._shared.json_input import too_deep

_T = TypeVar("_T")
_L = TypeVar("_L")

CHUNK = 1 << 20
"""Bytes decoded at a time: a batch of about 6,000 COCO annotations. Measured on 1M
annotations: 1 MB batches decode in 0.6 s, 16 MB ones in 0.9 s, the whole file in 1.8 s (the
decoded objects of a small batch stay in the CPU's caches)."""
_CUTS_TRIED = 3
"""Cuts tried in a window before its elements are found one at a time."""
_WS = b" \t\r\n"
_RAW = msgspec.json.Decoder(msgspec.Raw)
_KEY = msgspec.json.Decoder(str)
_CUT = re.compile(rb"\}[ \t\r\n]*[,\]]")
_BYTE = re.compile(r"\(byte (\d+)\)$")
_ELEMENT_PATH = re.compile(r"^(.*) - at `\$\[(\d+)\](.*)`$", re.DOTALL)
_VALUE_PATH = re.compile(r"^(.*) - at `\$(.*)`$", re.DOTALL)


class JsonStream:
    """A JSON file whose top-level object is read member by member: `members` yields each key,
    and the caller takes its value with `value`, `batches` (an array) or lets it be skipped.
    ``offset`` starts at a value whose offset `value_offset` gave before."""

    def __init__(self, file: Path, *, offset: int = 0) -> None:
        self.file, self._chunk = file, CHUNK
        self._files = ExitStack()
        self._f: IO[bytes] = self._files.enter_context(open_binary(file))
        self._f.seek(offset)
        self._buf, self._pos, self._base, self._eof = b"", 0, offset, False
        self._taken = True

    def __enter__(self) -> JsonStream:
        return self

    def __exit__(self, *error: Any) -> bool | None:
        """Closes the file; an `OSError` while reading becomes an `InputError` naming it."""
        return self._files.__exit__(*error)

    def close(self) -> None:
        self._files.close()

    @property
    def value_offset(self) -> int:
        """The offset in the file of the value about to be read."""
        return self._base + self._pos

    # --- the window ---------------------------------------------------------------------------

    def _fill(self, size: int) -> None:
        """At least ``size`` bytes from the position in the window, unless the file ends."""
        if len(self._buf) - self._pos >= size or self._eof:
            return
        wanted = max(size - (len(self._buf) - self._pos), self._chunk)
        more = self._f.read(wanted)
        self._eof = len(more) < wanted  # a file reads short only at its end
        self._buf = self._buf[self._pos:] + more
        self._base += self._pos
        self._pos = 0

    def _next_byte(self) -> int | None:
        """The next byte that is not white space (not consumed), None at the end of the file."""
        while True:
            buf, pos = self._buf, self._pos
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            self._pos = pos
            if pos < len(buf):
                return buf[pos]
            if self._eof:
                return None
            self._fill(self._chunk)

    def _expect(self, chars: bytes, what: str, at: str) -> int:
        byte = self._next_byte()
        if byte is None or byte not in chars:
            found = "the end of the file" if byte is None else repr(chr(byte))
            raise InputError(f"{self.file}: at {at}: expected {what}, found {found} (byte "
                             f"{self._base + self._pos})")
        self._pos += 1
        return byte

    def _extent(self) -> int:
        """The length of the JSON value at the position (with the white space after it)."""
        size = self._chunk
        while True:
            self._fill(size)
            window = memoryview(self._buf)[self._pos:self._pos + size]
            whole = self._eof and self._pos + size >= len(self._buf)
            try:
                _RAW.decode(window)
            except msgspec.DecodeError as exc:
                message = str(exc)
                byte = _BYTE.search(message)
                if message.startswith("JSON is malformed: trailing characters") and byte:
                    return int(byte.group(1)) - 1
                if whole or (byte and int(byte.group(1)) < len(window) - 1):
                    raise self._not_json(message, self._base + self._pos) from None
            except RecursionError:
                raise too_deep(self.file) from None
            else:
                if whole:
                    return len(window)
            size *= 2  # the window cut the value (or ended just after it): look further

    def _not_json(self, message: str, offset: int) -> InputError:
        """msgspec's ``message`` about bytes that start at ``offset`` in the file."""
        byte = _BYTE.search(message)
        if byte is not None:
            message = message[:byte.start()] + f"(byte {offset + int(byte.group(1))})"
        return InputError(f"{self.file}: not valid JSON: {message}")

    def _decode(self, decoder: msgspec.json.Decoder[_T], data: Any, at: str) -> _T:
        offset = self._base + self._pos - len(data)
        try:
            return decoder.decode(data)
        except msgspec.ValidationError as exc:
            what, where = _path(str(exc), _VALUE_PATH)
            raise InputError(f"{self.file}: at {at}{where}: {what}") from None
        except msgspec.DecodeError as exc:  # what finding its extent does not check (UTF-8)
            raise self._not_json(str(exc), offset) from None

    # --- values -------------------------------------------------------------------------------

    def members(self, what: str = "a JSON object") -> Iterator[str]:
        """The top-level object's keys in file order; a value the caller did not take when it
        asks for the next key is skipped. ``what`` names the object in an error."""
        self._expect(b"{", what, "$")
        if self._next_byte() == ord("}"):
            self._pos += 1
        else:
            while True:
                self._next_byte()
                key = self._decode(_KEY, self._take(), "$")
                self._expect(b":", "':'", f"$.{key}")
                self._next_byte()
                self._taken = False
                yield key
                if not self._taken:
                    self.skip()
                if self._expect(b",}", "',' or '}'", "$") == ord("}"):
                    break
        if self._next_byte() is not None:
            raise InputError(f"{self.file}: not valid JSON: trailing characters (byte "
                             f"{self._base + self._pos})")

    def _take(self) -> memoryview:
        size = self._extent()
        value = memoryview(self._buf)[self._pos:self._pos + size]
        self._pos += size
        self._taken = True
        return value

    def value(self, decoder: msgspec.json.Decoder[_T], at: str) -> _T:
        """The value at the position, decoded whole (for values of modest size)."""
        return self._decode(decoder, self._take(), at)

    def skip(self) -> None:
        """Pass over the value at the position; an array a batch at a time."""
        if self._next_byte() == ord("["):
            for _ in self.batches(_SKIP, "$"):
                pass
        else:
            self._take()

    @overload
    def batches(self, decoder: msgspec.json.Decoder[list[_T]], at: str
                ) -> Iterator[list[_T]]: ...

    @overload
    def batches(self, decoder: msgspec.json.Decoder[list[_T]], at: str, *,
                lean: msgspec.json.Decoder[list[_L]]) -> Iterator[list[_T] | list[_L]]: ...

    def batches(self, decoder: msgspec.json.Decoder[list[_T]], at: str, *,
                lean: msgspec.json.Decoder[list[_L]] | None = None
                ) -> Iterator[list[_T] | list[_L]]:
        """The array at the position as lists of its elements, in order, each decoded by
        ``decoder``; errors name ``at[i]``. ``lean`` is tried first on each batch: a type
        that decodes the common elements with less work, and refuses (`ValidationError`) a
        batch that has others, which ``decoder`` then decodes."""
        self._taken = True
        self._expect(b"[", "an array", at)
        done = 0
        if self._next_byte() == ord("]"):
            self._pos += 1
            return
        while True:
            elements = self._batch(decoder, lean, at, done)
            if elements is None:
                one = self._take()
                try:
                    elements = self._elements(decoder, lean, b"[" + bytes(one) + b"]", at, done)
                except msgspec.DecodeError as exc:  # what finding its extent does not check
                    raise self._not_json(str(exc), self._base + self._pos - len(one) - 1) \
                        from None
            done += len(elements)
            yield elements
            if self._expect(b",]", "',' or ']'", at) == ord("]"):
                return

    def _elements(self, decoder: msgspec.json.Decoder[list[_T]],
                  lean: msgspec.json.Decoder[list[_L]] | None, data: bytes, at: str, done: int
                  ) -> list[_T] | list[_L]:
        if lean is not None:
            try:
                return lean.decode(data)
            except msgspec.ValidationError:
                pass  # an element the lean type does not take: the full one does
        try:
            return decoder.decode(data)
        except msgspec.ValidationError as exc:
            what, where = _path(str(exc), _ELEMENT_PATH, done)
            raise InputError(f"{self.file}: at {at}{where}: {what}") from None

    def _batch(self, decoder: msgspec.json.Decoder[list[_T]],
               lean: msgspec.json.Decoder[list[_L]] | None, at: str, done: int
               ) -> list[_T] | list[_L] | None:
        """The elements from the position to the last cut of the window that gives valid JSON,
        the position moved past them; None when no cut tried does. A value of the wrong type
        is an error even in a slice cut inside an element: what comes before the cut is the
        file's own."""
        self._fill(self._chunk)
        buf, start = self._buf, self._pos
        end = min(len(buf), start + self._chunk)
        tries = 0
        while tries < _CUTS_TRIED:
            cut = buf.rfind(b"}", start, end)
            while cut >= 0 and _CUT.match(buf, cut) is None:
                cut = buf.rfind(b"}", start, cut)
            if cut < 0:
                return None
            try:
                elements = self._elements(decoder, lean, b"[" + buf[start:cut + 1] + b"]", at,
                                          done)
            except msgspec.DecodeError as exc:
                message = str(exc)
                byte = _BYTE.search(message)
                if message.startswith("JSON is malformed: trailing characters") and byte:
                    end = start + int(byte.group(1)) - 2  # the array ends before: cut there
                else:
                    end, tries = cut, tries + 1  # not between elements (or not JSON)
                continue
            except RecursionError:
                return None  # read one at a time, which names it
            self._pos = cut + 1
            return elements
        return None


_SKIP = msgspec.json.Decoder(list[msgspec.Raw])


def _path(message: str, pattern: re.Pattern[str], done: int = 0) -> tuple[str, str]:
    """msgspec's ``what - at `$[i].rest``` as ``(what, "[done + i].rest")`` (or ``.rest``)."""
    match = pattern.match(message)
    if match is None:
        return message, ""
    if pattern is _ELEMENT_PATH:
        return match.group(1), f"[{done + int(match.group(2))}]{match.group(3)}"
    return match.group(1), match.group(2)
