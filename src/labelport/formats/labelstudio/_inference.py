"""The label schema a Label Studio file implies when its config is missing (Label Studio's own
exports never include it): what the readers saw, turned into classes, keypoint names, object
attributes and image classifications, so a later export keeps them instead of dropping what
"the schema does not define".

Rules (documented in `labelport.formats.labelstudio.tasks`): classes in the order first seen,
with the geometry of their first object; a keypoint class's names in the order first seen
across the file (a name never labelled anywhere cannot be known); an attribute is ``bool`` when
every value was ``"true"``/``"false"``, ``int``/``float`` for numbers, ``select`` for other
choices (options as seen), ``string`` for text; a classification is ``text`` for a textarea,
``checkbox`` when an answer ever held several choices, else ``radio``, options as seen. What the
config (or the schema given) already defines is kept as it is."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from labelport.domain.geometry import GeometryKind
from labelport.domain.schema import (
    AttributeDef,
    AttributeType,
    ClassificationDef,
    ClassificationKind,
    LabelClass,
    LabelSchema,
)
from labelport.formats.labelstudio._config import BOOL_CHOICES


def typed_choice(value: Any) -> Any:
    """A choice of a per-region control read without a config: ``"true"``/``"false"`` (how
    labelport writes a bool attribute) as a bool, anything else as it is."""
    if isinstance(value, str) and value in BOOL_CHOICES:
        return value == BOOL_CHOICES[0]
    return value


def _attribute_type(values: list[Any], result_type: str) -> AttributeType:
    if result_type == "textarea":
        return AttributeType.STRING
    if all(isinstance(v, bool) for v in values):
        return AttributeType.BOOL
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return AttributeType.INT
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return AttributeType.FLOAT
    return AttributeType.SELECT if result_type == "choices" else AttributeType.STRING


@dataclass(slots=True)
class _Question:
    kind: str
    options: dict[str, None] = field(default_factory=dict)
    several: bool = False


@dataclass(slots=True)
class SchemaInference:
    """Collects what a reader saw; `extend` adds it to a schema."""

    classes: dict[str, GeometryKind] = field(default_factory=dict)
    keypoint_names: dict[str, dict[str, None]] = field(default_factory=dict)
    attributes: dict[str, dict[str, tuple[str, list[Any]]]] = field(default_factory=dict)
    questions: dict[str, _Question] = field(default_factory=dict)

    def saw_class(self, label: str, kind: GeometryKind) -> None:
        self.classes.setdefault(label, kind)

    def saw_keypoint(self, label: str, name: str) -> None:
        self.keypoint_names.setdefault(label, {})[name] = None

    def saw_attribute(self, label: str, name: str, result_type: str, value: Any) -> None:
        found = self.attributes.setdefault(label, {}).setdefault(name, (result_type, []))
        if not isinstance(value, list):
            found[1].append(value)

    def saw_answer(self, name: str, result_type: str, values: list[str]) -> None:
        question = self.questions.setdefault(name, _Question(kind=result_type))
        question.options.update(dict.fromkeys(values))
        question.several |= len(values) > 1

    def extend(self, schema: LabelSchema) -> LabelSchema:
        """``schema`` with the classes, keypoint names, attributes and classifications seen
        that it lacks."""
        for kind in dict.fromkeys(self.classes.values()):
            schema = schema.with_classes([n for n, k in self.classes.items() if k is kind], kind)
        classes = tuple(self._class(c) for c in schema.classes)
        defined = {d.name for d in schema.classifications}
        questions = tuple(
            ClassificationDef(
                name=name, kind=ClassificationKind.TEXT if q.kind == "textarea" else
                ClassificationKind.CHECKBOX if q.several else ClassificationKind.RADIO,
                options=() if q.kind == "textarea" else tuple(q.options))
            for name, q in self.questions.items() if name not in defined)
        return LabelSchema(classes=classes, classifications=schema.classifications + questions)

    def _class(self, c: LabelClass) -> LabelClass:
        names = tuple(self.keypoint_names.get(c.name, ()))
        if names and not c.keypoint_names:
            c = replace(c, geometry=GeometryKind.KEYPOINTS, keypoint_names=names)
        known = {a.name for a in c.attributes}
        added = tuple(
            AttributeDef(name=name, type=kind, options=tuple(dict.fromkeys(
                str(v) for v in values)) if kind is AttributeType.SELECT else ())
            for name, (result_type, values) in self.attributes.get(c.name, {}).items()
            if name not in known for kind in (_attribute_type(values, result_type),))
        return replace(c, attributes=c.attributes + added) if added else c
