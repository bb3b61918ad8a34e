"""The label schema: which classes a project's objects may have, and which image-level
classifications its images may carry. Class order is the schema's order, everywhere."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from labelport.domain.geometry import GeometryKind


class AttributeType(enum.StrEnum):
    SELECT = "select"
    INT = "int"
    BOOL = "bool"
    STRING = "string"
    FLOAT = "float"


@dataclass(frozen=True, slots=True, kw_only=True)
class AttributeDef:
    """An attribute an object of a class may carry (``occluded``, ``colour``, ...)."""

    name: str
    type: AttributeType
    required: bool = False
    options: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    default: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelClass:
    """A label class. ``id`` is stable for the life of the project: renaming a class or adding
    classes never changes it. ``parent`` names the supercategory."""

    id: int
    name: str
    geometry: GeometryKind = GeometryKind.BOX
    parent: str | None = None
    color: str | None = None
    keypoint_names: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    """Edges between keypoints as 0-based indices into ``keypoint_names``."""
    flip_pairs: tuple[tuple[int, int], ...] = ()
    """Keypoints that swap under a horizontal flip (left eye, right eye), 0-based."""
    attributes: tuple[AttributeDef, ...] = ()


class ClassificationKind(enum.StrEnum):
    RADIO = "radio"
    SELECT = "select"
    CHECKBOX = "checkbox"
    TEXT = "text"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassificationDef:
    """An image-level question. ``children`` are asked under it (DataGym's nesting); a child
    with ``when`` set is asked only when that option is chosen."""

    name: str
    kind: ClassificationKind
    options: tuple[str, ...] = ()
    required: bool = False
    when: str | None = None
    children: tuple[ClassificationDef, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Classification:
    """An answer to a `ClassificationDef`: chosen options (or text), and nested answers."""

    name: str
    values: tuple[str, ...]
    children: tuple[Classification, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSchema:
    classes: tuple[LabelClass, ...] = ()
    classifications: tuple[ClassificationDef, ...] = ()
    _by_name: dict[str, LabelClass] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update((c.name, c) for c in self.classes)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def get(self, name: str) -> LabelClass | None:
        return self._by_name.get(name)

    def index_of(self, name: str) -> int:
        """0-based position in the schema's order (YOLO indices, mask values - 1, ...)."""
        return self.classes.index(self._by_name[name])

    def with_classes(self, names: list[str], geometry: GeometryKind) -> LabelSchema:
        """A schema with ``names`` appended (those not present yet), ids continuing."""
        next_id = max((c.id for c in self.classes), default=0) + 1
        added: list[LabelClass] = []
        for name in names:
            if name not in self._by_name and all(a.name != name for a in added):
                added.append(LabelClass(id=next_id, name=name, geometry=geometry))
                next_id += 1
        if not added:
            return self
        return LabelSchema(classes=self.classes + tuple(added),
                           classifications=self.classifications)
