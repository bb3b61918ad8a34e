"""Every mask layout writes Datumaro's ``dataset_meta.json`` (label map, colours), and Datumaro
reads the exports with it as they are: its common semantic segmentation reader finds the same
classes on each image as labelport's reader (grey values through the label map, colour masks
through the colours), and its meta-file parser gives the same label map and colours for every
layout (Datumaro has no reader of its own for instance PNGs or per-class bitmasks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.side_python import DATUMARO, run_side

from labelport.domain.source import MemorySource
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.formats._shared.dataset_meta import distinct_colors
from labelport.formats._shared.raster import class_colors
from labelport.formats.registry import get_format
from labelport.sample import build_sample

LAYOUTS = ("masks_semantic", "masks_semantic_color", "masks_instance", "masks_instance_color",
           "masks_per_class")
SEMANTIC = ("masks_semantic", "masks_semantic_color")

_SCRIPT = r"""
import json, sys
from datumaro.components.annotation import AnnotationType
from datumaro.components.dataset import Dataset
from datumaro.util.meta_file_util import parse_meta_file

out = {}
for root in sys.argv[1:]:
    meta = {name: list(color) if color else None
            for name, color in parse_meta_file(root + "/dataset_meta.json").items()}
    found = {"meta": meta}
    if root.endswith(("masks_semantic", "masks_semantic_color")):
        dataset = Dataset.import_from(root, "common_semantic_segmentation")
        names = [c.name for c in dataset.categories()[AnnotationType.label]]
        found["items"] = {item.id: sorted({names[a.label] for a in item.annotations
                                            if a.type == AnnotationType.mask})
                          for item in dataset}
        found["with_image"] = sum(item.media is not None for item in dataset)
    out[root.rsplit("/", 1)[1]] = found
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[MemorySource, Path]:
    root = tmp_path_factory.mktemp("masks")
    sample = build_sample(root / "media")
    for name in LAYOUTS:
        run_export(sample, get_format(name), root / name, media=MediaMode.COPY)
    return sample, root


def test_every_layout_writes_the_label_map_and_colours(
        exports: tuple[MemorySource, Path]) -> None:
    sample, root = exports
    colors = class_colors(sample.schema)
    assert (0, 0, 0) in colors  # the sample's image-level class is black, like the background
    for name in LAYOUTS:
        meta = json.loads((root / name / "dataset_meta.json").read_text(encoding="utf-8"))
        assert meta["label_map"] == {"0": "background", **{
            str(i): n for i, n in enumerate(sample.schema.class_names, start=1)}}
        assert meta["segmentation_colors"] == [list(c) for c in distinct_colors(colors)]
        assert meta["background_label"] == "0"


def test_datumaro_reads_the_masks_with_it(exports: tuple[MemorySource, Path]) -> None:
    sample, root = exports
    found = run_side(DATUMARO, _SCRIPT, *(str(root / name) for name in LAYOUTS))
    colors = distinct_colors(class_colors(sample.schema))
    expected_meta = {n: list(c) for n, c in zip(("background", *sample.schema.class_names),
                                                 colors, strict=True)}
    for name in LAYOUTS:
        assert found[name]["meta"] == expected_meta, name
    for name in SEMANTIC:
        spec = get_format(name)
        assert spec.reader is not None
        ours = {Path(r.item.path).stem: sorted({a.label for a in r.annotations})
                for r in spec.reader(root / name, {}).records()}
        theirs = {item: [label for label in labels if label != "background"]
                  for item, labels in found[name]["items"].items()}
        assert theirs == ours, name
        # Datumaro names a mask's item by its file name and an image by its path under
        # images/: an item in a folder (sub/dir/walker.png) comes without its image.
        flat = sum("/" not in r.item.path for r in sample.records())
        assert any(ours.values()) and found[name]["with_image"] == flat < len(sample)
