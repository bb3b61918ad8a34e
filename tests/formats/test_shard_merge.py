"""The id shift of a shard merge: leading integer fields rewritten, nothing else touched."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from labelport.errors import InputError
from labelport.formats._shared.shard_merge import IdShift, write_entries, write_lines

WHERE = Path("shard-1/annotations/instances_default.json")
LINES = (b'{"id":1,"image_id":1,"bbox":[1,2,3,4],"attributes":{"id":7}},\n'
         b'{"id":2,"image_id":1,"bbox":[5,6,7,8]},\n'
         b'{"id":99,"image_id":3,"note":"\\n{\\"id\\":5"}\n')


def test_two_leading_fields_are_shifted_by_their_offsets() -> None:
    shifted = IdShift("id", "image_id").sub(LINES, (1000, 7), lines=3, where=WHERE)
    assert shifted == (b'{"id":1001,"image_id":8,"bbox":[1,2,3,4],"attributes":{"id":7}},\n'
                       b'{"id":1002,"image_id":8,"bbox":[5,6,7,8]},\n'
                       b'{"id":1099,"image_id":10,"note":"\\n{\\"id\\":5"}\n')


def test_one_field_and_zero_offsets() -> None:
    assert IdShift("id").sub(b'{"id":9,"x":1}\n', (991,), lines=1, where=WHERE) \
        == b'{"id":1000,"x":1}\n'
    assert IdShift("id", "image_id").sub(LINES, (0, 0), lines=3, where=WHERE) is LINES


@pytest.mark.parametrize("line", [b'{"image_id":1,"id":2}\n', b'{"id":-1,"image_id":1}\n',
                                  b'{"id":"a","image_id":1}\n'])
def test_an_entry_without_the_leading_integers_is_refused(line: bytes) -> None:
    with pytest.raises(InputError, match="1 entries do not start with the integer fields"):
        IdShift("id", "image_id").sub(LINES + line, (1, 1), lines=4, where=WHERE)


@pytest.mark.parametrize("start", [0, 3])
def test_spooled_lines_are_written_as_write_entries_writes_them(start: int) -> None:
    """Block by block (`write_lines`) gives the bytes of a loop per line (`write_entries`),
    whatever the lines' lengths against the block size, empty lines and a missing last
    line break included."""
    rng = random.Random(start)
    for case in range(200):
        lines = [b"x" * rng.choice([0, 1, 5, 700_000, 1_500_000]) + b"%d" % i
                 for i in range(rng.randrange(0, 6))]
        if case % 7 == 0:
            lines.append(b"")
        spooled = b"".join(line + b"\n" for line in lines)
        if case % 5 == 1 and spooled:
            spooled = spooled[:-1]  # a spool whose last line lost its line break
        expected, got = io.BytesIO(), io.BytesIO()
        n = write_entries(expected, (line.rstrip(b"\n") for line in
                                     io.BytesIO(spooled).readlines()), start=start)
        assert write_lines(got, io.BytesIO(spooled), start=start) == n
        assert got.getvalue() == expected.getvalue()
