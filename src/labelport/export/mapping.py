"""Class mapping: rename, merge and drop label classes, and choose their ids, before the writer.

- ``--map OLD=NEW`` renames ``OLD``; several olds to one new merge into one class, and a NEW
  that names a class kept as it is merges into that class. Each OLD is mapped once, from the
  original names (``a=b`` with ``b=c`` sends ``a`` to ``b`` and ``b`` to ``c``).
- ``--drop-class NAME`` removes the class and its objects (counted in the report).
- ``--class-ids FILE``: ``NAME=ID`` lines (the last ``=`` separates, so a name may hold one;
  blank lines and ``#`` comments ignored), naming classes after the mapping; ids are
  non-negative integers. Classes the file does not name keep their original id.

The mapped schema keeps the schema's order: a target class sits where its first source class
was. A merged class is the class already bearing the target name when that one is kept
unrenamed (its id, colour, attributes), else the first merged class in schema order, renamed.
Every class is kept, also one no object uses. Objects' attributes are not converted: a merge of
classes with different attribute definitions is for the checks stage to report.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from labelport.domain.model import Annotation, ItemRecord
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource
from labelport.errors import InputError
from labelport.export.stage import PassCounter, StageReport, StageSource
from labelport.formats.base import Report


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassMapping:
    """Renames (old, new), dropped class names and explicit target ids, as the user gave them."""

    renames: tuple[tuple[str, str], ...] = ()
    drops: tuple[str, ...] = ()
    class_ids: tuple[tuple[str, int], ...] = ()
    class_ids_file: str | None = None

    def __post_init__(self) -> None:
        olds = [old for old, _ in self.renames]
        for old in olds:
            if olds.count(old) > 1:
                targets = ", ".join(new for o, new in self.renames if o == old)
                raise InputError(f"--map {old!r} is given more than once ({targets}); "
                                 "map each class once")
            if old in self.drops:
                raise InputError(f"class {old!r} is both mapped (--map) and dropped "
                                 "(--drop-class); choose one")

    @classmethod
    def from_cli(cls, *, maps: Sequence[str] = (), drops: Sequence[str] = (),
                 class_ids: Path | None = None) -> ClassMapping:
        """From ``--map OLD=NEW`` (repeatable), ``--drop-class NAME`` and ``--class-ids FILE``."""
        return cls(renames=tuple(parse_map(m) for m in maps), drops=tuple(dict.fromkeys(drops)),
                   class_ids=read_class_ids(class_ids) if class_ids is not None else (),
                   class_ids_file=str(class_ids) if class_ids is not None else None)

    @property
    def is_identity(self) -> bool:
        return not (self.renames or self.drops or self.class_ids)

    def to_json(self) -> dict[str, Any]:
        return {"map": dict(self.renames), "drop": list(self.drops),
                "class_ids": dict(self.class_ids), "class_ids_file": self.class_ids_file}

    def targets(self, schema: LabelSchema) -> dict[str, str | None]:
        """Each class of ``schema`` to its new name, or None when dropped. Names the mapping
        gives that ``schema`` lacks are refused, listing the valid ones."""
        names = schema.class_names
        for name in [old for old, _ in self.renames] + list(self.drops):
            if name not in names:
                raise InputError(f"class mapping: no class {name!r}; classes: "
                                 f"{', '.join(names)}")
        renames = dict(self.renames)
        return {n: None if n in self.drops else renames.get(n, n) for n in names}

    def mapped_schema(self, schema: LabelSchema) -> LabelSchema:
        """The schema after the mapping, in the order and with the ids the module describes."""
        targets = self.targets(schema)
        chosen: dict[str, LabelClass] = {}
        for label_class in schema.classes:
            target = targets[label_class.name]
            if target is None:
                continue
            keeps_name = target == label_class.name
            if target not in chosen or keeps_name:
                chosen[target] = replace(label_class, name=target)
        ids = dict(self.class_ids)
        for name in ids:
            if name not in chosen:
                raise InputError(f"{self.class_ids_file or 'class ids'}: no class {name!r} after "
                                 f"the mapping; classes: {', '.join(chosen)}")
        classes = tuple(replace(c, id=ids.get(name, c.id)) for name, c in chosen.items())
        seen: dict[int, str] = {}
        for c in classes:
            if c.id in seen:
                raise InputError(f"class mapping: classes {seen[c.id]!r} and {c.name!r} would "
                                 f"share id {c.id}; give them distinct ids with --class-ids")
            seen[c.id] = c.name
        return LabelSchema(classes=classes, classifications=schema.classifications)


def parse_map(text: str) -> tuple[str, str]:
    """``OLD=NEW``; the first ``=`` separates (a new name may hold one, an old one may not)."""
    old, sep, new = text.partition("=")
    if not sep or not old.strip() or not new.strip():
        raise InputError(f"--map {text!r}: expected OLD=NEW, e.g. --map lorry=truck")
    return old.strip(), new.strip()


def read_class_ids(path: Path) -> tuple[tuple[str, int], ...]:
    """The ``--class-ids`` file: ``NAME=ID`` lines; errors name the file and the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the class ids file ({exc})") from None
    ids: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.rpartition("=")
        if not sep or not name.strip() or not value.strip().isdigit():
            raise InputError(f"{path}:{number}: {line!r}: expected NAME=ID with a "
                             "non-negative integer id, e.g. car=1")
        if name.strip() in ids:
            raise InputError(f"{path}:{number}: class {name.strip()!r} is given an id twice")
        ids[name.strip()] = int(value)
    return tuple(ids.items())


def apply_mapping(source: ExportSource, mapping: ClassMapping, report: Report) -> ExportSource:
    """``source`` with the mapped schema and its objects relabelled; objects of dropped
    classes are removed and counted. Objects of classes outside the schema pass unchanged."""
    if mapping.is_identity:
        return source
    schema = mapping.mapped_schema(source.schema)
    targets = mapping.targets(source.schema)

    def stage(counter: PassCounter) -> Iterator[ItemRecord]:
        for record in source.records():
            annotations = _relabel(record.annotations, targets, counter)
            yield record if annotations is None else replace(record, annotations=annotations)

    return StageSource(project=source.project, schema=schema, datasets=source.datasets,
                       labelsets=source.labelsets, stage=stage, report=StageReport(report),
                       count=source.__len__, within=source)


def _relabel(annotations: tuple[Annotation, ...], targets: Mapping[str, str | None],
             counter: PassCounter) -> tuple[Annotation, ...] | None:
    """The relabelled objects, or None when the mapping changes none of them."""
    changed = False
    kept: list[Annotation] = []
    for annotation in annotations:
        target = targets.get(annotation.label, annotation.label)
        if target is None:
            counter.count(f"class mapping: dropped {annotation.label}")
            changed = True
        elif target != annotation.label:
            counter.count(f"class mapping: {annotation.label} -> {target}")
            kept.append(replace(annotation, label=target))
            changed = True
        else:
            kept.append(annotation)
    return tuple(kept) if changed else None
