"""`formats/_shared/json_stream`: a file read member by member through a small window gives the
values `json` gives, whatever falls at the window's edges, and names what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from labelport.errors import InputError
from labelport.formats._shared import json_stream
from labelport.formats._shared.json_stream import JsonStream

_ANY = msgspec.json.Decoder()
_OBJECTS = msgspec.json.Decoder(list[dict[str, Any]])


class _Id(msgspec.Struct, forbid_unknown_fields=True):
    id: int


# cuts that look like element boundaries inside strings and nested arrays of objects
DOC = {"info": {"x": [1, {"y": "}, {"}]}, "n": 12345, "skipped": [{"a": "}]"}] * 30,
       "items": [{"k": [{"z": 1}, {"z": 2}], "s": "}, {", "id": i} for i in range(40)]
       + [{"id": 40}] * 5 + [{"last": "] }"}], "tail": "é\\\""}


def _read(file: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with JsonStream(file) as stream:
        for key in stream.members():
            if key == "items":
                lean = msgspec.json.Decoder(list[_Id])
                out[key] = [x if isinstance(x, dict) else {"id": x.id}
                            for batch in stream.batches(_OBJECTS, "$.items", lean=lean)
                            for x in batch]
            elif key == "ids":
                out[key] = [x.id for batch in stream.batches(
                    msgspec.json.Decoder(list[_Id]), "$.ids") for x in batch]
            elif key != "skipped":
                out[key] = stream.value(_ANY, f"$.{key}")
    return out


@pytest.mark.parametrize("chunk", [8, 64, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
def test_values_are_those_json_gives_at_any_window(tmp_path: Path, chunk: int,
                                                   indent: int | None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_stream, "CHUNK", chunk)
    file = tmp_path / "doc.json"
    file.write_text(json.dumps(DOC, indent=indent), encoding="utf-8")
    assert _read(file) == {k: v for k, v in DOC.items() if k != "skipped"}


@pytest.mark.parametrize(("text", "message"), [
    ('{"ids": [{"id": 1}, {"id": "2"}]}', r"at \$\.ids\[1\]\.id: Expected `int`"),
    ('{"items": [{"id": 1}, {"id": 2]}', r"not valid JSON: .*\(byte 30\)"),
    ('{"items": [{"id": 1}', r"at \$\.items: expected ',' or '\]', found the end of the file"),
    ('{"items": [{"id": 1', r"not valid JSON: Input data was truncated"),
    ('{"items": {}}', r"at \$\.items: expected an array, found '\{'"),
    ('[]', r"at \$: expected a JSON object"),
    ('{"n": 1} x', r"trailing characters \(byte 9\)"),
    ('{"n": "\xff"}', r"not valid JSON"),
])
def test_errors_name_the_json_path_or_the_byte(tmp_path: Path, text: str, message: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_stream, "CHUNK", 8)
    file = tmp_path / "bad.json"
    file.write_bytes(text.encode("utf-8", "surrogateescape")
                     if "\xff" not in text else text.encode("latin-1"))
    with pytest.raises(InputError, match=rf"bad\.json: .*{message}"):
        _read(file)
