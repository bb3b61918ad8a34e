"""``labelport import`` of a zip or tar.gz archive: unpacked (and kept) beside it with the
service's rules (`labelport.archives`: no entry outside the folder, no links, bounded sizes),
then read like the folder it holds."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelport.archives import unpack_tar
from labelport.cli import app
from labelport.errors import InputError, LabelportError

COCO = Path(__file__).parent / "data" / "golden" / "coco" / "plain"


def _zip(archive: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    return archive


def _tar(archive: Path, files: dict[str, bytes], *, link: str | None = None) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link is not None:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return archive


def _coco_files() -> dict[str, bytes]:
    return {p.relative_to(COCO).as_posix(): p.read_bytes()
            for p in COCO.rglob("*") if p.is_file()}


def _labelport(tmp_path: Path, *args: str) -> tuple[int, str]:
    """The command run in this process; a `LabelportError` gives what `labelport.cli.main`
    makes of it (status 2, its message; the zip-slip test runs the real command)."""
    if not (tmp_path / "s.db").exists():
        CliRunner().invoke(app, ["init", "--db", str(tmp_path / "s.db")])
    result = CliRunner().invoke(app, [*args, "--db", str(tmp_path / "s.db")])
    if isinstance(result.exception, LabelportError):
        return 2, str(result.exception)
    return result.exit_code, result.output


@pytest.mark.parametrize("make", [lambda d: _zip(d / "coco.zip", _coco_files()),
                                  lambda d: _tar(d / "coco.tar.gz", _coco_files())])
def test_an_archive_imports_like_its_folder(tmp_path: Path, make: object) -> None:
    archive = make(tmp_path)  # type: ignore[operator]
    assert _labelport(tmp_path, "project", "create", "p")[0] == 0
    code, output = _labelport(tmp_path, "import", "p", "coco", str(archive))
    assert code == 0, output
    assert (tmp_path / "coco" / "annotations" / "instances_train.json").is_file()
    code, folder = _labelport(tmp_path, "import", "p", "coco", str(COCO), "--dataset", "again")
    assert code == 0
    imported = output.splitlines()[-1].split(" into ")[0]
    assert imported == folder.splitlines()[-1].split(" into ")[0]  # same items and objects


@pytest.mark.parametrize(("files", "link", "message"), [
    ({"../evil.json": b"{}"}, None, "'../evil.json' points outside the archive"),
    ({"/tmp/evil.json": b"{}"}, None, "'/tmp/evil.json' points outside the archive"),
    ({"a.json": b"{}"}, "images/link.png", "'images/link.png' is not a file or a folder"),
])
def test_a_tar_breaking_the_rules_is_refused_and_leaves_nothing(
        tmp_path: Path, files: dict[str, bytes], link: str | None, message: str) -> None:
    archive = _tar(tmp_path / "bad.tar.gz", files, link=link)
    assert _labelport(tmp_path, "project", "create", "p")[0] == 0
    code, output = _labelport(tmp_path, "import", "p", "coco", str(archive))
    assert code == 2 and message in output and "Traceback" not in output
    assert not (tmp_path / "bad").exists() and not (tmp_path.parent / "evil.json").exists()


def test_a_zip_slip_is_refused_as_the_service_refuses_it(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bad.zip", {"ok/../../evil.json": b"{}"})
    assert _labelport(tmp_path, "project", "create", "p")[0] == 0
    run = subprocess.run([sys.executable, "-m", "labelport", "import", "p", "coco", str(archive),
                          "--db", str(tmp_path / "s.db")], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 2 and "points outside the archive" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists() and not (tmp_path.parent / "evil.json").exists()


def test_an_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "coco.zip", _coco_files())
    (tmp_path / "coco").mkdir()
    (tmp_path / "coco" / "mine.txt").write_text("keep", encoding="utf-8")
    assert _labelport(tmp_path, "project", "create", "p")[0] == 0
    code, output = _labelport(tmp_path, "import", "p", "coco", str(archive))
    assert code == 2 and "--unpack-to" in output
    assert [p.name for p in (tmp_path / "coco").iterdir()] == ["mine.txt"]
    code, output = _labelport(tmp_path, "import", "p", "coco", str(archive), "--unpack-to",
                              str(tmp_path / "elsewhere"))
    assert code == 0, output


def test_tar_limits_and_damage(tmp_path: Path) -> None:
    from labelport.archives import ArchiveLimits

    archive = _tar(tmp_path / "many.tar.gz", {f"{i}.txt": b"x" for i in range(5)})
    with pytest.raises(InputError, match="5 entries, over the 3"):
        unpack_tar(archive, tmp_path / "out", ArchiveLimits(max_files=3))
    bomb = _tar(tmp_path / "bomb.tar.gz", {"zeros.bin": bytes(4 << 20)})
    with pytest.raises(InputError, match="times its packed size"):
        unpack_tar(bomb, tmp_path / "out2", ArchiveLimits(max_ratio=10))
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(archive.read_bytes()[:40])
    with pytest.raises(InputError, match="not a readable tar archive"):
        unpack_tar(broken, tmp_path / "out3")
