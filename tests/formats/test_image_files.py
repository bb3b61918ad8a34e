"""Image sizes read from file headers, as a viewer shows the image (EXIF orientation applied)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ExifTags, Image

from labelport.errors import InputError
from labelport.formats._shared.image_files import image_item, image_size


def _jpeg(path: Path, *, orientation: int | None, size_wh: tuple[int, int] = (40, 30)) -> Path:
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    Image.new("RGB", size_wh, (200, 10, 10)).save(path, "JPEG", exif=exif.tobytes())
    return path


@pytest.mark.parametrize(("orientation", "expected_wh"), [
    (None, (40, 30)), (1, (40, 30)), (2, (40, 30)), (3, (40, 30)), (4, (40, 30)),
    (5, (30, 40)), (6, (30, 40)), (7, (30, 40)), (8, (30, 40)),
])
def test_exif_orientation_swaps_width_and_height(tmp_path: Path, orientation: int | None,
                                                 expected_wh: tuple[int, int]) -> None:
    image = _jpeg(tmp_path / "a.jpg", orientation=orientation)
    with Image.open(image) as opened:  # the tag is really in the file
        assert opened.getexif().get(ExifTags.Base.Orientation) == orientation
    assert image_size(image) == expected_wh


def test_the_item_of_a_rotated_photo_has_its_upright_size(tmp_path: Path) -> None:
    item = image_item(_jpeg(tmp_path / "phone.jpg", orientation=6, size_wh=(64, 48)))
    assert (item.width, item.height) == (48, 64)


def test_a_png_without_exif(tmp_path: Path) -> None:
    Image.new("L", (7, 5)).save(tmp_path / "a.png")
    assert image_size(tmp_path / "a.png") == (7, 5)


def test_a_png_with_exif_before_its_pixels_is_turned(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    Image.new("L", (7, 5)).save(tmp_path / "a.png", exif=exif.tobytes())
    assert image_size(tmp_path / "a.png") == (5, 7)


def test_a_png_size_decodes_no_pixel(tmp_path: Path) -> None:
    """A PNG cut inside its pixel data still gives its size: nothing past the header is read."""
    Image.effect_noise((400, 300), 50).save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
    assert image_size(tmp_path / "cut.png") == (400, 300)


def test_not_an_image_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"nope")
    with pytest.raises(InputError, match="a.jpg: not a readable image"):
        image_size(tmp_path / "a.jpg")
