"""``dataset_meta.json``: Datumaro's description of a segmentation dataset's label map, which its
common semantic segmentation reader needs and its other readers take over their own legends
(``datumaro/util/meta_file_util.py``: ``label_map`` from pixel value to class name,
``segmentation_colors`` indexed by pixel value, ``background_label``). The mask layouts write it
beside ``labelmap.txt`` so a segmentation tool reads them without glue."""

from __future__ import annotations

from itertools import chain, count
from pathlib import Path

import orjson

from labelport.formats._shared.raster import RGB, voc_color

DATASET_META_FILE = "dataset_meta.json"
BACKGROUND = "background"


def distinct_colors(colors: list[RGB]) -> list[RGB]:
    """Black for the background, then ``colors``, each one that repeats an earlier one (black
    included) replaced by the first VOC palette colour (then any colour) no entry uses: Datumaro
    maps a colour mask's colours back to values one to one, and would give every pixel of a
    repeated colour to the last class that has it."""
    out: list[RGB] = [(0, 0, 0)]
    taken = {*colors, (0, 0, 0)}
    spare = (c for c in chain((voc_color(i) for i in range(1, 256)),
                              ((i >> 16 & 255, i >> 8 & 255, i & 255) for i in count(1)))
             if c not in taken)
    for color in colors:
        out.append(next(spare) if color in out else color)
    return out


def write_dataset_meta(folder: Path, names: list[str], colors: list[RGB]) -> None:
    """Value 0 is the background (black), value k the k-th class of ``names`` with the k-th
    colour of ``colors`` (`distinct_colors`): the values of a semantic mask and the palette of
    a colour mask. One key a line, so diffs read well."""
    labels = [BACKGROUND, *names]
    meta = {"label_map": {str(value): name for value, name in enumerate(labels)},
            "segmentation_colors": [list(c) for c in distinct_colors(colors)],
            "background_label": "0"}
    body = b",\n".join(b"  " + orjson.dumps(k) + b": " + orjson.dumps(v) for k, v in meta.items())
    (folder / DATASET_META_FILE).write_bytes(b"{\n" + body + b"\n}\n")


def write_label_list(folder: Path, names: list[str]) -> None:
    """``dataset_meta.json`` of a detection layout, as Datumaro's ``save_meta_file`` writes one
    without masks: the class list in order. Datumaro's readers take it over the labels they
    would otherwise collect split by split (KITTI's), lists it then refuses to merge."""
    (folder / DATASET_META_FILE).write_bytes(orjson.dumps({"labels": names}) + b"\n")
