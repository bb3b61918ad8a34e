"""Small YAML documents written as text: the keys and lists labelport writes are fixed, only
class names are free text. PyYAML is not imported for this: its import is ~13 ms, a tenth of
a small export's start-up. Readers still parse with PyYAML (``yaml.safe_load``), and the tests
check every quoting rule here against it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

_PLAIN = re.compile(r"[^\W\d_][\w \-.,()/+\"']*")
"""Starts with a letter, then letters, digits and punctuation that mean nothing inside a YAML
plain scalar in block context (no ``:``, ``#``, ``[``, ``{``, ``&``, ``*``, ``!``...)."""
_WORDS_1_1 = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})
"""Words YAML 1.1 readers (PyYAML, Ultralytics) turn into booleans or null when plain."""
_ESCAPE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
"""Characters JSON leaves as they are but YAML reads as line breaks, rejects as non-printable
or drops (a byte-order mark): written as ``\\uXXXX`` escapes, which YAML's double quotes take."""


def scalar(text: str) -> str:
    """``text`` as a YAML scalar that reads back as the same string: plain when nothing in it
    could mean anything else, else double-quoted (a JSON string, with the escapes YAML needs
    beyond JSON's)."""
    if _PLAIN.fullmatch(text) and not text.endswith(" ") and text.lower() not in _WORDS_1_1:
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def flow_list(values: Sequence[int]) -> str:
    """``[1, 2, 3]`` on one line, as short lists are written."""
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def block_mapping(key: str, entries: Mapping[int, str]) -> str:
    """``key:`` then one ``  k: v`` line per entry (YOLO's class names, one per line)."""
    return f"{key}:\n" + "".join(f"  {k}: {scalar(v)}\n" for k, v in entries.items())
