"""The sample project is deterministic, complete, and its images are what its items say."""

from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
from PIL import Image

from labelport.domain.geometry import Box, GeometryKind, Keypoints, Mask, Polygon, Visibility
from labelport.domain.model import Source, TaskStatus
from labelport.domain.schema import AttributeType
from labelport.sample import build_sample


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_call_gives_same_images_and_records(tmp_path: Path) -> None:
    first = build_sample(tmp_path / "a")
    first_files = _files(tmp_path / "a")
    again = build_sample(tmp_path / "a")
    assert again == first
    assert _files(tmp_path / "a") == first_files

    elsewhere = build_sample(tmp_path / "b")
    assert _files(tmp_path / "b") == first_files
    assert [r.annotations for r in elsewhere.records()] == [r.annotations for r in first.records()]


def test_covers_every_geometry_kind_and_task_status(tmp_path: Path) -> None:
    source = build_sample(tmp_path)
    records = list(source.records())
    annotations = [a for r in records for a in r.annotations]
    assert {a.geometry.kind for a in annotations} == set(GeometryKind)
    assert {t.status for r in records for t in r.tasks} == set(TaskStatus)
    assert {r.item.dataset for r in records} == {d.name for d in source.datasets}
    assert {a.labelset for a in annotations} == {ls.name for ls in source.labelsets}


def test_covers_the_cases_formats_get_wrong(tmp_path: Path) -> None:
    source = build_sample(tmp_path)
    records = list(source.records())
    annotations = [a for r in records for a in r.annotations]
    schema = source.schema

    polygons = [a.geometry for a in annotations if isinstance(a.geometry, Polygon)]
    assert any(part.holes for p in polygons for part in p.parts)
    assert any(len(p.parts) > 1 for p in polygons)
    keypoints = [a.geometry for a in annotations if isinstance(a.geometry, Keypoints)]
    assert {p.v for k in keypoints for p in k.points} == set(Visibility)
    person = next(c for c in schema.classes if c.keypoint_names)
    assert person.skeleton and person.flip_pairs

    assert {d.type for c in schema.classes for d in c.attributes} == set(AttributeType)
    assert any(d.required for c in schema.classes for d in c.attributes)
    assert any(c.parent for c in schema.classes) and all(c.color for c in schema.classes)
    assert any("," in c.name for c in schema.classes)
    assert any('"' in c.name for c in schema.classes)
    used = {a.label for a in annotations}
    assert set(schema.class_names) - used, "a class with no annotations"
    assert used <= set(schema.class_names)

    assert any(a.crowd for a in annotations)
    assert any(a.z_order for a in annotations) and any(a.instance_id for a in annotations)
    assert any(a.tags for a in annotations)
    model = [a for a in annotations if a.source is Source.MODEL]
    assert all(a.score is not None for a in model)
    assert {a.labelset for a in model} == {"ground-truth", "predictions"}
    answers = [c for r in records for t in r.tasks for c in t.classifications]
    assert any(c.children for c in answers)
    assert any(not r.annotations for r in records)
    assert any(r.item.metadata for r in records)
    assert any(not r.item.path.isascii() for r in records)
    assert any("/" in r.item.path for r in records)
    assert any(
        isinstance(a.geometry, Box)
        and a.geometry.x + a.geometry.w == r.item.width
        and a.geometry.y + a.geometry.h == r.item.height
        for r in records for a in r.annotations
    )
    timestamps = [t.created_at for r in records for t in r.tasks]
    assert all(ts is not None and ts.tzinfo is not None for ts in timestamps)


def test_images_exist_with_the_sizes_and_formats_the_items_state(tmp_path: Path) -> None:
    source = build_sample(tmp_path)
    formats = set()
    for record in source.records():
        item = record.item
        assert item.media_uri is not None and Path(item.media_uri).is_absolute()
        assert Path(item.media_uri) == tmp_path / item.dataset / item.path
        with Image.open(item.media_uri) as image:
            assert image.size == (item.width, item.height)
            assert len(image.getbands()) == item.channels
            formats.add(image.format)
    assert formats == {"PNG", "JPEG"}
    assert len({(r.item.width, r.item.height) for r in source.records()}) > 1


def test_annotations_are_what_was_drawn(tmp_path: Path) -> None:
    """Sample the pixels a box and a mask claim: they carry the class's colour."""
    source = build_sample(tmp_path)
    for record in source.records():
        if not record.item.path.endswith(".png"):
            continue  # JPEG blurs edges; PNG pixels are exact
        pixels = np.asarray(Image.open(record.item.media_uri).convert("RGB"))
        for a in record.annotations:
            if a.labelset != "ground-truth":
                continue
            colour = source.schema.get(a.label).color
            rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
            if isinstance(a.geometry, Box):
                x0, y0, x1, y1 = (int(v) for v in a.geometry.xyxy)
                assert (pixels[y0:y1, x0:x1] == rgb).all()
                if x1 < record.item.width:
                    assert not (pixels[y0:y1, x1] == rgb).all()
            elif isinstance(a.geometry, Mask):
                m = a.geometry
                bitmap = mask_utils.decode(
                    {"counts": m.counts.encode("ascii"), "size": [m.height, m.width]})
                assert (pixels[bitmap == 1] == rgb).all()
                assert not (pixels[bitmap == 0] == rgb).all(axis=1).any()
