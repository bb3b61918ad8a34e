"""`_yaml_text` writes YAML without PyYAML; PyYAML (what Ultralytics reads data.yaml with) must
read every scalar back as the same string, and the plain ones as PyYAML itself writes them."""

from __future__ import annotations

import pytest
import yaml

from labelport.domain.schema import LabelClass, LabelSchema
from labelport.formats._shared import yaml_text
from labelport.formats.yolo.ultralytics import PoseShape, data_yaml

TRICKY = [
    "car", "traffic sign, temporary", 'lane "dashed"', "it's", "a - b", "x (y)", "a/b+c",
    "Straße", "車", "café au lait", "naïve_class", "yes", "No", "ON", "off", "TRUE", "null",
    "Null", "y", "n", "~", "", " ", "lead space", "trail space ", "1", "007", "1e3", "0x1f",
    "1_000", "3.14", ".inf", "-.nan", "12:30", "a: b", "a:b", "a #b", "#tag", "- item", "-",
    "[x]", "{x}", "&anchor", "*alias", "!tag", "|", ">", "%", "@at", "`tick`", "?", "a?",
    "line\nbreak", "tab\there", "cr\r", "nul\x00", "bell\x07", "del\x7f", "nel\x85",
    "c1\x9b", "ls\u2028", "ps\u2029", "bom\ufeff", "nonchar\ufffe", "emoji 😀", "zwj‍x",
    "back\\slash", 'quote"', "'single", "=", "<<", "key: value # comment", "---", "...",
]


@pytest.mark.parametrize("name", TRICKY)
def test_scalars_read_back_as_the_same_string(name: str) -> None:
    assert yaml.safe_load(f"k: {yaml_text.scalar(name)}\n") == {"k": name}


@pytest.mark.parametrize("name", [n for n in TRICKY
                                  if yaml_text.scalar(n) == n])
def test_plain_scalars_are_what_pyyaml_writes(name: str) -> None:
    dumped = yaml.safe_dump({"k": name}, allow_unicode=True, width=1000)
    assert dumped == f"k: {name}\n"


def test_data_yaml_reads_back_with_pyyaml() -> None:
    schema = LabelSchema(classes=tuple(LabelClass(id=i + 1, name=n)
                                       for i, n in enumerate(TRICKY[:40])))
    text = data_yaml(schema=schema, splits=["train", "val", "test", "extra: one"],
                     shape=PoseShape(n_keypoints=5, flip_idx=(0, 2, 1, 4, 3)))
    assert yaml.safe_load(text) == {
        "train": "images/train", "val": "images/val", "test": "images/test",
        "extra: one": "images/extra: one", "nc": 40,
        "names": dict(enumerate(TRICKY[:40])), "kpt_shape": [5, 3], "flip_idx": [0, 2, 1, 4, 3]}
