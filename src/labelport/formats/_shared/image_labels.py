"""Image-level labels for classification layouts (``imagefolder``, ``yolo`` with
``task=classify``, ``classification_csv``, ``hf_imagefolder``): which labels an image has, and
the way back from a label to a record.

An export takes its labels from one of two places, chosen by the ``classification`` option:
- empty (default): the image-level classes, annotations without geometry (`NoGeometry`), whose
  classes are the schema's classes of geometry ``none``, in schema order;
- a name: that classification of the schema (found at any depth); its options are the classes,
  in the schema's order; a ``checkbox`` classification is multi-label by design, a ``text``
  one has no classes and is refused.

Everything else an image carries (objects with geometry, other classifications, scores,
attributes) is counted as not written, never dropped silently."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from labelport.domain.geometry import GeometryKind, NoGeometry
from labelport.domain.model import Annotation, Item, ItemRecord, Task
from labelport.domain.schema import (
    Classification,
    ClassificationDef,
    ClassificationKind,
    LabelClass,
    LabelSchema,
)
from labelport.errors import UnsupportedError
from labelport.formats.base import OptionSpec, WriteContext

CLASSIFICATION_OPTION = OptionSpec(
    name="classification", type=str, default="",
    help="take labels from this image classification of the schema (default: the image-level "
         "classes, annotations without geometry)")


@dataclass(frozen=True, slots=True)
class LabelSource:
    """Where an export's image labels come from: ``classes`` in schema order, the chosen
    ``classification`` (None: image-level classes) and whether it is multi-label by design."""

    classes: tuple[str, ...]
    classification: str | None = None
    multi_label: bool = False

    @property
    def described(self) -> str:
        """How the manifest and error messages name this source."""
        if self.classification is None:
            return "image-level classes"
        return f"classification {self.classification!r}"


_Node = TypeVar("_Node", ClassificationDef, Classification)


def _find(nodes: Iterable[_Node], name: str) -> _Node | None:
    """The first definition or answer called ``name``, depth first (nested ones included)."""
    for node in nodes:
        if node.name == name:
            return node
        found = _find(node.children, name)
        if found is not None:
            return found
    return None


def label_source(schema: LabelSchema, options: Mapping[str, Any]) -> LabelSource:
    """The label source ``options`` choose; `UnsupportedError` for an unknown or text
    classification."""
    name = options.get("classification") or ""
    if not name:
        return LabelSource(classes=tuple(c.name for c in schema.classes
                                         if c.geometry is GeometryKind.NONE))
    definition = _find(schema.classifications, name)
    if definition is None:
        names = [d.name for d in _all_defs(schema.classifications)]
        raise UnsupportedError(f"the schema has no classification {name!r}; classifications: "
                               f"{', '.join(names) or 'none'}")
    if definition.kind is ClassificationKind.TEXT or not definition.options:
        raise UnsupportedError(f"classification {name!r} is free text, it has no classes to "
                               "export; choose a radio, select or checkbox classification")
    return LabelSource(classes=definition.options, classification=name,
                       multi_label=definition.kind is ClassificationKind.CHECKBOX)


def _all_defs(definitions: Iterable[ClassificationDef]) -> list[ClassificationDef]:
    found: list[ClassificationDef] = []
    for definition in definitions:
        found += [definition, *_all_defs(definition.children)]
    return found


def image_labels(record: ItemRecord, source: LabelSource, ctx: WriteContext) -> tuple[str, ...]:
    """The record's labels in the order they were given, each once; what the layout cannot
    carry is counted."""
    labels: dict[str, None] = {}
    known = frozenset(source.classes)
    for annotation in record.annotations:
        kind = annotation.geometry.kind
        if kind is not GeometryKind.NONE:
            ctx.report.count(f"not written: {kind.value} (classification carries image labels)")
            continue
        if source.classification is not None:
            ctx.report.count("not written: image-level class (labels come from "
                             f"{source.described})")
            continue
        if annotation.label not in known:
            ctx.report.count("not written: image-level label of a class whose geometry is not "
                             "none")
            continue
        if annotation.score is not None:
            ctx.report.count("not written: score")
        if annotation.attributes:
            ctx.report.count("not written: attributes")
        labels[annotation.label] = None
    for task in record.tasks:
        name = source.classification
        answer = _find(task.classifications, name) if name is not None else None
        others = [c for c in task.classifications
                  if answer is None or _find((c,), answer.name) is None]
        if others:
            ctx.report.count("not written: image classification", len(others))
        if answer is None:
            continue
        for value in answer.values:
            if value in known:
                labels[value] = None
            else:
                ctx.report.count(f"not written: value outside {source.described}'s options")
    return tuple(labels)


def record_class_order(ctx: WriteContext, names: Iterable[str], *, rule: str) -> None:
    """Put the export's class indices in its report, so the manifest says which index each
    class has and by which ``rule`` (sorted folder names, schema order)."""
    listed = ", ".join(f"{index} {name}" for index, name in enumerate(names))
    ctx.report.warn(f"class indices ({rule}): {listed or 'no class'}")


# --- reading ---------------------------------------------------------------------------------


def read_label_source(classes: Iterable[str], options: Mapping[str, Any], *,
                      multi_label: bool) -> LabelSource:
    """The label source a reader builds from the classes it found: image-level classes, or,
    with the ``classification`` option, answers to that classification."""
    name = options.get("classification") or None
    return LabelSource(classes=tuple(classes), classification=name, multi_label=multi_label)


def read_schema(source: LabelSource) -> LabelSchema:
    """The schema of what a classification reader found: classes of geometry ``none`` in
    ``source.classes``'s order, or one classification with those options."""
    if source.classification is None:
        return LabelSchema(classes=tuple(
            LabelClass(id=i, name=name, geometry=GeometryKind.NONE)
            for i, name in enumerate(source.classes, start=1)))
    kind = ClassificationKind.CHECKBOX if source.multi_label else ClassificationKind.RADIO
    return LabelSchema(classifications=(ClassificationDef(
        name=source.classification, kind=kind, options=source.classes),))


def labelled_record(item: Item, labels: Iterable[str], source: LabelSource, *,
                    split: str | None) -> ItemRecord:
    """The record of an image with ``labels``: image-level annotations, or one answer to the
    chosen classification."""
    labels = tuple(labels)
    if source.classification is None:
        return ItemRecord(item=item, split=split, annotations=tuple(
            Annotation(label=label, geometry=NoGeometry()) for label in labels))
    tasks = (Task(classifications=(Classification(name=source.classification, values=labels),)),
             ) if labels else ()
    return ItemRecord(item=item, split=split, tasks=tasks)

