"""XML for the formats that write or read it (VOC, CVAT): escaping text for XML 1.0 content and
attribute values, and parsing untrusted files with defusedxml (no entities, no DTDs), with
errors that name the file, line and column."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from labelport.errors import InputError
from labelport.formats._shared.input_files import regular_file
from labelport.formats.base import WriteContext

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPECIAL_IN_ATTRIBUTE = re.compile(
    "[&<>\"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTENT_ENTITIES = {"\r": "&#13;"}
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}


def _escape(value: str, entities: dict[str, str]) -> str:
    """``&``, ``<``, ``>`` and then ``entities`` replaced (what ``xml.sax.saxutils.escape``
    does, without the ~25 ms its import of ``urllib.request`` adds to every export)."""
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char, entity in entities.items():
        value = value.replace(char, entity)
    return value


class XmlText:
    """Escapes text for XML, replacing characters XML 1.0 cannot hold with U+FFFD (counted in
    the export's report, so the change is never silent)."""

    def __init__(self, ctx: WriteContext) -> None:
        self._ctx = ctx
        self._names: dict[str, str] = {}

    def name(self, value: str) -> str:
        """`__call__` for class names, which repeat on every object: each is escaped once
        (a name with characters XML cannot hold is not kept, so each use is counted)."""
        escaped = self._names.get(value)
        if escaped is None:
            escaped = self(value)
            if not _NOT_XML.search(value):
                self._names[value] = escaped
        return escaped

    def _holdable(self, value: str) -> str:
        if _NOT_XML.search(value):
            self._ctx.report.count("converted: characters XML cannot hold replaced by U+FFFD")
            value = _NOT_XML.sub("\ufffd", value)
        return value

    def __call__(self, value: str) -> str:
        """``value`` as element content (``\\r`` kept as a character reference)."""
        if not _SPECIAL.search(value):
            return value
        return _escape(self._holdable(value), _CONTENT_ENTITIES)

    def attribute(self, value: str) -> str:
        """``value`` for a double-quoted attribute; tabs and line breaks as character references,
        which a parser's attribute normalisation would otherwise turn into spaces."""
        if not _SPECIAL_IN_ATTRIBUTE.search(value):
            return value
        return _escape(self._holdable(value), _ATTRIBUTE_ENTITIES)


def _refused(path: Path, error: ParseError | DefusedXmlException) -> InputError:
    if isinstance(error, ParseError):
        line, column = error.position
        return InputError(f"{path}: line {line}, column {column}: not well-formed XML ({error})")
    return InputError(f"{path}: refused XML with {error} (entities and DTDs are not accepted)")


def parse_xml(path: Path) -> Element:
    """The root element of the XML file at ``path``."""
    regular_file(path)
    try:
        root: Element = SafeET.parse(path).getroot()  # defusedxml has no type hints
    except (ParseError, DefusedXmlException) as error:
        raise _refused(path, error) from None
    return root


def iter_xml(path: Path) -> Iterator[tuple[str, Element]]:
    """``(event, element)`` pairs of a streaming parse (``start`` and ``end``), for files too
    large to hold; the caller clears elements it is done with."""
    regular_file(path)
    try:
        yield from SafeET.iterparse(path, events=("start", "end"))
    except (ParseError, DefusedXmlException) as error:
        raise _refused(path, error) from None
