"""``make goldens``: rewrite the golden files under tests/data/golden from the current writers
and print which files were added, changed or removed, so the diff is read before it is committed.

The golden tests rewrite their files when ``LABELPORT_REGEN_GOLDEN=1``; this runs every test
module that knows the switch with it set. In CI (``CI`` set) regeneration is refused: a run that
rewrote the goldens and then compared with them would pass whatever the writers do (see
tests/conftest.py, which refuses the switch for any pytest run in CI)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.required import in_ci

TESTS = Path(__file__).parent
GOLDEN = TESTS / "data" / "golden"
SWITCH = "LABELPORT_REGEN_GOLDEN"


def _digest(path: Path) -> str:
    """A file's content; for a PNG its mode, size, palette and pixels (as the golden tests
    compare them: zlib may pack the same pixels into other bytes)."""
    if path.suffix.lower() != ".png":
        return hashlib.sha256(path.read_bytes()).hexdigest()
    with Image.open(path) as image:
        header = f"{image.mode} {image.size} {image.getpalette()}".encode()
        return hashlib.sha256(header + image.tobytes()).hexdigest()


def _snapshot() -> dict[str, str]:
    return {p.relative_to(GOLDEN).as_posix(): _digest(p)
            for p in sorted(GOLDEN.rglob("*")) if p.is_file()}


def _golden_modules() -> list[str]:
    return sorted(str(p) for p in TESTS.rglob("test_*.py")
                  if SWITCH in p.read_text(encoding="utf-8"))


def main() -> int:
    if in_ci():
        print("refusing to regenerate goldens in CI (CI is set): run `make goldens` on a "
              "developer machine and commit the reviewed files", file=sys.stderr)
        return 2
    before = _snapshot()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *_golden_modules()], env={**os.environ, SWITCH: "1"}, check=False)
    after = _snapshot()
    changes = [("added", sorted(after.keys() - before.keys())),
               ("removed", sorted(before.keys() - after.keys())),
               ("changed", sorted(k for k in before.keys() & after.keys()
                                  if before[k] != after[k]))]
    for what, names in changes:
        for name in names:
            print(f"{what:8} tests/data/golden/{name}")
    if not any(names for _, names in changes):
        print("goldens unchanged")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
