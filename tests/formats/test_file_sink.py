"""`FileSink`: files written on a second thread arrive whole and in order, their checksums are
those of the bytes on disk, and a failed write surfaces in the writer's thread."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from labelport.export.manifest import file_checksums
from labelport.formats._shared.file_sink import FileSink


@pytest.mark.parametrize("background", [True, False])
def test_writes_every_file_and_hashes_what_it_wrote(tmp_path: Path, background: bool) -> None:
    texts = {tmp_path / f"{i:04d}.txt": f"row {i} é\n" * (i % 7) for i in range(300)}
    with FileSink(background=background, batch=16, depth=2) as sink:
        for path, text in texts.items():
            sink.write_text(path, text)
        digests = sink.close()
    for path, text in texts.items():
        data = path.read_bytes()
        assert data == text.encode("utf-8")
        assert digests[path.stat().st_dev, path.stat().st_ino] == hashlib.sha256(data).hexdigest()


def test_a_later_write_to_the_same_path_wins(tmp_path: Path) -> None:
    sink = FileSink(background=True, batch=1)
    sink.write_text(tmp_path / "a.txt", "first")
    sink.write_text(tmp_path / "a.txt", "second")
    digests = sink.close()
    assert (tmp_path / "a.txt").read_text() == "second"
    stat = (tmp_path / "a.txt").stat()
    assert digests == {(stat.st_dev, stat.st_ino): hashlib.sha256(b"second").hexdigest()}


@pytest.mark.parametrize("background", [True, False])
def test_a_failed_write_is_raised_to_the_writer(tmp_path: Path, background: bool) -> None:
    sink = FileSink(background=background, batch=1)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(NotADirectoryError):
        sink.write_text(tmp_path / "file" / "a.txt", "x")  # raised here when inline
        for i in range(100):  # or at a later write, or at close, when in the background
            sink.write_text(tmp_path / f"{i}.txt", "y")
        sink.close()


@pytest.mark.parametrize("background", [True, False])
def test_a_missing_folder_is_made(tmp_path: Path, background: bool) -> None:
    """A label file mirroring a nested image path (``labels/train/cam1/a.txt``)."""
    with FileSink(background=background) as sink:
        sink.write_text(tmp_path / "cam1" / "day" / "a.txt", "x")
        sink.write_text(tmp_path / "cam1" / "day" / "b.txt", "y")
    assert (tmp_path / "cam1" / "day" / "b.txt").read_text() == "y"


def test_the_thread_is_gone_after_an_error_in_the_writer(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), FileSink(background=True) as sink:
        sink.write_text(tmp_path / "a.txt", "x")
        raise RuntimeError("the writer failed")
    assert sink._thread is not None and not sink._thread.is_alive()


def test_two_spellings_of_one_file_give_the_manifest_the_last_write(tmp_path: Path) -> None:
    """As on a case-insensitive file system (``Train/a.txt`` and ``train/a.txt``): here a
    folder and a link to it. The manifest must hash what the file holds, the second write."""
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    with FileSink(background=True) as sink:
        sink.write_text(tmp_path / "real" / "a.txt", "first")
        sink.write_text(tmp_path / "alias" / "a.txt", "second")
        digests = sink.close()
    assert file_checksums(tmp_path, known=digests) == {
        "real/a.txt": hashlib.sha256(b"second").hexdigest()}
