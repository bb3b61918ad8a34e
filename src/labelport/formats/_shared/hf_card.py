"""Hugging Face dataset cards: the ``README.md`` whose YAML front matter declares a dataset's
features (``configs[0].features``), so ``datasets.load_dataset(folder)`` gives class labels with
their names and order. Written by ``parquet`` and ``hf_imagefolder``, read back by both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelport.errors import InputError
from labelport.formats._shared.input_files import read_text

Json = dict[str, Any]
CARD_FILE = "README.md"


def card_features(features: Json) -> list[Json]:
    """The dataset card's spelling of ``datasets`` features (their ``_type`` JSON): a list of
    ``{name, dtype}`` entries, lists of objects as ``sequence`` (read by every ``datasets``
    version from 2 on)."""
    return [{"name": name, **_card_type(feature)} for name, feature in features.items()]


def _card_type(feature: Json) -> Json:
    kind = feature["_type"]
    if kind == "Image":
        return {"dtype": "image"}
    if kind == "Value":
        return {"dtype": feature["dtype"]}
    if kind == "ClassLabel":
        return {"dtype": {"class_label": {"names": dict(enumerate(feature["names"]))}}}
    inner = feature["feature"]
    if "_type" in inner:
        return {"sequence": _card_type(inner)["dtype"]}
    return {"sequence": card_features(inner)}


def card_text(front: Json, body: str) -> str:
    """``README.md``: ``front`` as YAML front matter, then ``body`` (markdown)."""
    import yaml  # here: most exports never write a card

    return f"---\n{yaml.safe_dump(front, allow_unicode=True, sort_keys=False)}---\n\n{body}"


def read_front_matter(root: Path) -> Json | None:
    """The front matter of ``root``'s ``README.md``; None without a card or front matter."""
    card = root / CARD_FILE
    if not card.is_file():
        return None
    import yaml

    text = read_text(card)
    if not text.startswith("---\n") or "\n---" not in text[4:]:
        return None
    try:
        front = yaml.safe_load(text[4:text.index("\n---", 4)])
    except yaml.YAMLError as error:
        raise InputError(f"{card}: the front matter is not YAML ({error})") from None
    return front if isinstance(front, dict) else None
