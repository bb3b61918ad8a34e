"""Label Studio's labeling config (``label_config.xml``) for a label schema, and the schema back
from a config. The tags and their meaning are Label Studio's (https://labelstud.io/tags/);
which tag holds what is labelport's choice, documented in `labelport.formats.labelstudio.tasks`.

Control names (``from_name`` in results) are fixed for the object tools (`RECTANGLE`,
`POLYGON`, `BRUSH`, `IMAGE_LABELS`, one ``"{class} keypoints"`` per keypoint class), the
classification's own name for an image-level question, and ``"{class}: {attribute}"`` for an
object attribute (a per-region control shown when a region of that class is selected). A name
taken twice gets `` (2)``, `` (3)``... so every control name is unique, as Label Studio
requires. Each class's ``<Label>`` carries its schema index as ``model_index`` (an attribute the
SDK's converters read), so a reader gets the schema's class order back although the tags group
classes by tool. The module also names the export's files."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element

from labelport.domain.geometry import GeometryKind
from labelport.domain.schema import (
    AttributeDef,
    AttributeType,
    ClassificationDef,
    ClassificationKind,
    LabelClass,
    LabelSchema,
)
from labelport.errors import InputError
from labelport.formats._shared.xml_text import XmlText, parse_xml
from labelport.formats.base import WriteContext

RESULT_FILE = "result.json"
TASKS_DIR = "tasks"
"""Option ``files=per_task``: one ``{task id}.json`` per task in this folder."""
CONFIG_FILE = "label_config.xml"
IMAGES_DIR = "images"
PREDICTIONS = "predictions"
"""The labelset written as Label Studio predictions, and read back from them."""
OCCLUDED = "occluded"
"""The region meta text of an occluded keypoint."""
ANNOTATORS = "annotators"
"""The key of the task's ``meta`` listing each annotation's annotator (option ``annotators``)."""

IMAGE = "image"
RECTANGLE = "rectangle"
POLYGON = "polygon"
BRUSH = "brush"
IMAGE_LABELS = "image_labels"
KEYPOINTS_SUFFIX = " keypoints"

LABEL_TAGS = {RECTANGLE: "RectangleLabels", POLYGON: "PolygonLabels", BRUSH: "BrushLabels"}
"""The object tools, in the order the config lists them."""
TOOL_OF_KIND = {GeometryKind.BOX: RECTANGLE, GeometryKind.ROTATED_BOX: RECTANGLE,
                GeometryKind.KEYPOINTS: RECTANGLE, GeometryKind.POLYGON: POLYGON,
                GeometryKind.MASK: BRUSH}
"""Where a class's declared geometry puts it (a keypoint class also owns a rectangle: the box
its points hang from). Polylines have no Label Studio tool."""
_KIND_OF_TAG = {"RectangleLabels": GeometryKind.BOX, "PolygonLabels": GeometryKind.POLYGON,
                "BrushLabels": GeometryKind.MASK, "Labels": GeometryKind.BOX}
_CHOICE_OF_KIND = {ClassificationKind.RADIO: 'choice="single-radio"',
                   ClassificationKind.SELECT: 'choice="single" layout="select"',
                   ClassificationKind.CHECKBOX: 'choice="multiple"'}
BOOL_CHOICES = ("true", "false")


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name} ({n})"
        n += 1
    taken.add(candidate)
    return candidate


@dataclass(slots=True)
class ControlNames:
    """The ``from_name`` of every control the config of a schema has."""

    keypoints: dict[str, str] = field(default_factory=dict)
    """Keypoint class -> its KeyPointLabels tag."""
    classifications: dict[tuple[str, ...], str] = field(default_factory=dict)
    """Path of classification names (parent first) -> control name."""
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    """(class, attribute) -> per-region control name."""

    @classmethod
    def of(cls, schema: LabelSchema) -> ControlNames:
        taken = {IMAGE, RECTANGLE, POLYGON, BRUSH, IMAGE_LABELS}
        names = cls()
        for c in schema.classes:
            if c.geometry is GeometryKind.KEYPOINTS:
                names.keypoints[c.name] = _unique(c.name + KEYPOINTS_SUFFIX, taken)

        def walk(defs: Iterable[ClassificationDef], path: tuple[str, ...]) -> None:
            for d in defs:
                names.classifications[(*path, d.name)] = _unique(d.name, taken)
                walk(d.children, (*path, d.name))

        walk(schema.classifications, ())
        for c in schema.classes:
            for a in c.attributes:
                names.attributes[(c.name, a.name)] = _unique(f"{c.name}: {a.name}", taken)
        return names


def _number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


class _Xml:
    def __init__(self, ctx: WriteContext) -> None:
        self.text = XmlText(ctx)
        self.lines: list[str] = []

    def tag(self, depth: int, name: str, attributes: dict[str, str | None], *,
            raw: str = "", close: bool = True) -> None:
        attrs = "".join(f' {k}="{self.text.attribute(v)}"' for k, v in attributes.items()
                        if v is not None)
        self.lines.append(f"{'  ' * depth}<{name}{attrs}{' ' + raw if raw else ''}"
                          f"{'/>' if close else '>'}")

    def end(self, depth: int, name: str) -> None:
        self.lines.append(f"{'  ' * depth}</{name}>")


def label_config_xml(schema: LabelSchema, tools: dict[str, list[str]], *,
                     ctx: WriteContext) -> str:
    """The config for ``schema``; ``tools`` maps each object tool to the classes it must offer
    (the declared ones and any written with that tool), in schema order."""
    names = ControlNames.of(schema)
    colours = {c.name: c.color for c in schema.classes}
    index = {c.name: str(i) for i, c in enumerate(schema.classes)}
    xml = _Xml(ctx)
    xml.tag(0, "View", {}, close=False)
    xml.tag(1, "Image", {"name": IMAGE, "value": "$image"})
    for tool, tag in LABEL_TAGS.items():
        if tools.get(tool):
            xml.tag(1, tag, {"name": tool, "toName": IMAGE}, close=False)
            for label in tools[tool]:
                xml.tag(2, "Label", {"value": label, "background": colours.get(label),
                                     "model_index": index.get(label)})
            xml.end(1, tag)
    for c in schema.classes:
        if c.name in names.keypoints:
            xml.tag(1, "KeyPointLabels", {"name": names.keypoints[c.name], "toName": IMAGE},
                    close=False)
            for i, point in enumerate(c.keypoint_names):
                xml.tag(2, "Label", {"value": point, "model_index": str(i),
                                     "background": c.color})
            xml.end(1, "KeyPointLabels")
    if tools.get(IMAGE_LABELS):
        xml.tag(1, "Choices", {"name": IMAGE_LABELS, "toName": IMAGE, "choice": "multiple"},
                close=False)
        for label in tools[IMAGE_LABELS]:
            xml.tag(2, "Choice", {"value": label, "background": colours.get(label),
                                  "model_index": index.get(label)})
        xml.end(1, "Choices")
    _classifications(xml, schema.classifications, (), names, parent=None)
    for c in schema.classes:
        for a in c.attributes:
            _attribute(xml, c, a, names.attributes[(c.name, a.name)])
    xml.end(0, "View")
    return "\n".join(xml.lines) + "\n"


def _classifications(xml: _Xml, defs: Iterable[ClassificationDef], path: tuple[str, ...],
                     names: ControlNames, *, parent: str | None) -> None:
    for d in defs:
        name = names.classifications[(*path, d.name)]
        shown = {} if parent is None else {"visibleWhen": "choice-selected",
                                           "whenTagName": parent, "whenChoiceValue": d.when}
        required = {"required": "true"} if d.required else {}
        if d.kind is ClassificationKind.TEXT:
            xml.tag(1, "TextArea", {"name": name, "toName": IMAGE, **shown, **required})
        else:
            xml.tag(1, "Choices", {"name": name, "toName": IMAGE, **shown, **required},
                    raw=_CHOICE_OF_KIND[d.kind], close=False)
            for option in d.options:
                xml.tag(2, "Choice", {"value": option})
            xml.end(1, "Choices")
        _classifications(xml, d.children, (*path, d.name), names, parent=name)


def _attribute(xml: _Xml, c: LabelClass, a: AttributeDef, name: str) -> None:
    common: dict[str, str | None] = {
        "name": name, "toName": IMAGE, "perRegion": "true", "visibleWhen": "region-selected",
        "whenLabelValue": c.name, "required": "true" if a.required else None}
    if a.type in (AttributeType.SELECT, AttributeType.BOOL):
        options = a.options if a.type is AttributeType.SELECT else BOOL_CHOICES
        xml.tag(1, "Choices", common, raw='choice="single"', close=False)
        for option in options:
            xml.tag(2, "Choice", {"value": option})
        xml.end(1, "Choices")
    elif a.type in (AttributeType.INT, AttributeType.FLOAT):
        xml.tag(1, "Number", {**common,
                              "min": None if a.min is None else _number(a.min),
                              "max": None if a.max is None else _number(a.max),
                              "step": "1" if a.type is AttributeType.INT else "any"})
    else:
        xml.tag(1, "TextArea", common)


# --- reading ------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class _ClassInfo:
    geometry: GeometryKind
    color: str | None
    index: float | None
    keypoint_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedConfig:
    """What a config tells a reader: the schema, and what each control name stands for."""

    schema: LabelSchema
    image_key: str | None
    """The task data key the Image tag shows (``$image`` gives ``image``)."""
    image_labels: frozenset[str]
    """Controls whose choices are image-level classes."""
    keypoint_owner: dict[str, str]
    """KeyPointLabels control -> the class its points belong to."""
    classifications: dict[str, tuple[str, ...]]
    """Control -> path of classification names."""
    attributes: dict[str, tuple[str, AttributeDef]]
    """Per-region control -> (class, attribute definition)."""


def _children(element: Element, tag: str) -> Iterator[Element]:
    return (child for child in element.iter(tag))


def _float(text: str | None) -> float | None:
    if text is None or text in ("", "any"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _attribute_def(element: Element, name: str) -> AttributeDef:
    options = tuple(c.get("value", "") for c in _children(element, "Choice"))
    required = element.get("required") == "true"
    if element.tag == "Choices":
        if options == BOOL_CHOICES:
            return AttributeDef(name=name, type=AttributeType.BOOL, required=required)
        return AttributeDef(name=name, type=AttributeType.SELECT, options=options,
                            required=required)
    if element.tag == "Number":
        kind = AttributeType.INT if element.get("step") == "1" else AttributeType.FLOAT
        return AttributeDef(name=name, type=kind, required=required,
                            min=_float(element.get("min")), max=_float(element.get("max")))
    return AttributeDef(name=name, type=AttributeType.STRING, required=required)


def _classification_kind(element: Element) -> ClassificationKind:
    if element.tag == "TextArea":
        return ClassificationKind.TEXT
    if element.get("choice") == "multiple":
        return ClassificationKind.CHECKBOX
    if element.get("layout") == "select":
        return ClassificationKind.SELECT
    return ClassificationKind.RADIO


def parse_label_config(path: Path) -> ParsedConfig:
    """The schema of a Label Studio config: classes in ``model_index`` order, else in the order
    the label tags list them (their ``background`` as colour), keypoint names from
    ``"{class} keypoints"`` tags in ``model_index`` order, classifications nested by
    ``whenTagName``, attributes from per-region controls with ``whenLabelValue``."""
    root = parse_xml(path)
    if root.tag != "View":
        raise InputError(f"{path}: expected a Label Studio config with <View> at its root; "
                         f"got <{root.tag}>")
    classes: dict[str, _ClassInfo] = {}
    image_key = next((e.get("value", "").lstrip("$") for e in root.iter("Image")), None)
    image_labels: set[str] = set()
    keypoint_tags: list[Element] = []
    questions: list[Element] = []
    regions: list[Element] = []
    for element in root.iter():
        name = element.get("name", "")
        if element.tag in _KIND_OF_TAG:
            for label in _children(element, "Label"):
                classes.setdefault(label.get("value", ""), _ClassInfo(
                    geometry=_KIND_OF_TAG[element.tag], color=label.get("background"),
                    index=_float(label.get("model_index"))))
        elif element.tag == "KeyPointLabels":
            keypoint_tags.append(element)
        elif element.tag in ("Choices", "TextArea", "Number"):
            if element.get("perRegion") == "true":
                regions.append(element)
            elif name == IMAGE_LABELS:
                image_labels.add(name)
                for choice in _children(element, "Choice"):
                    classes.setdefault(choice.get("value", ""), _ClassInfo(
                        geometry=GeometryKind.NONE, color=choice.get("background"),
                        index=_float(choice.get("model_index"))))
            elif element.tag != "Number":
                questions.append(element)
    keypoint_owner: dict[str, str] = {}
    for element in keypoint_tags:
        name = element.get("name") or ""
        owner = name.removesuffix(KEYPOINTS_SUFFIX)
        points = sorted(_children(element, "Label"),
                        key=lambda label: _float(label.get("model_index")) or 0.0)
        if name.endswith(KEYPOINTS_SUFFIX) and owner in classes:
            keypoint_owner[name] = owner
            classes[owner].geometry = GeometryKind.KEYPOINTS
            classes[owner].keypoint_names = tuple(p.get("value", "") for p in points)
    attributes: dict[str, tuple[str, AttributeDef]] = {}
    per_class: dict[str, list[AttributeDef]] = {}
    for element in regions:
        name = element.get("name", "")
        owner = element.get("whenLabelValue") or ""
        if owner in classes:
            definition = _attribute_def(element, name.removeprefix(f"{owner}: "))
            attributes[name] = (owner, definition)
            per_class.setdefault(owner, []).append(definition)
    order = sorted(classes, key=lambda name: _order_key(classes[name].index))
    schema_classes = tuple(
        LabelClass(id=i, name=name, geometry=classes[name].geometry, color=classes[name].color,
                   keypoint_names=classes[name].keypoint_names,
                   attributes=tuple(per_class.get(name, ())))
        for i, name in enumerate(order, start=1))
    defs, paths = _question_tree(questions)
    return ParsedConfig(schema=LabelSchema(classes=schema_classes, classifications=defs),
                        image_key=image_key, image_labels=frozenset(image_labels),
                        keypoint_owner=keypoint_owner, classifications=paths,
                        attributes=attributes)


def _order_key(index: float | None) -> float:
    """Classes with a ``model_index`` (labelport writes the schema's index) in that order, then
    the others as the config lists them (a stable sort keeps their order)."""
    return float("inf") if index is None else index


def _question_tree(questions: list[Element]
                   ) -> tuple[tuple[ClassificationDef, ...], dict[str, tuple[str, ...]]]:
    """Nest questions under the question ``whenTagName`` names; control names become the
    classifications' names (a `` (2)`` suffix written for uniqueness is removed)."""
    by_name = {q.get("name", ""): q for q in questions}
    kids: dict[str | None, list[Element]] = {}
    for q in questions:
        parent = q.get("whenTagName")
        kids.setdefault(parent if parent in by_name else None, []).append(q)
    paths: dict[str, tuple[str, ...]] = {}

    def build(parent: str | None, path: tuple[str, ...]) -> tuple[ClassificationDef, ...]:
        out = []
        for q in kids.get(parent, []):
            control = q.get("name", "")
            name = _without_counter(control)
            paths[control] = (*path, name)
            out.append(ClassificationDef(
                name=name, kind=_classification_kind(q),
                options=tuple(c.get("value", "") for c in _children(q, "Choice")),
                required=q.get("required") == "true", when=q.get("whenChoiceValue"),
                children=build(control, (*path, name))))
        return tuple(out)

    return build(None, ()), paths


def _without_counter(name: str) -> str:
    head, sep, tail = name.rpartition(" (")
    return head if sep and tail.endswith(")") and tail[:-1].isdigit() else name
