"""Checks before export: each check under each policy, the policies' parser, the summary of a
check run, streaming, and the sample project under the default policies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from labelport.domain.geometry import (
    Box,
    Geometry,
    GeometryKind,
    Mask,
    NoGeometry,
    Polygon,
    RotatedBox,
)
from labelport.domain.model import Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import AttributeDef, AttributeType, LabelClass, LabelSchema
from labelport.domain.source import ExportSource, MemorySource, StreamSource
from labelport.errors import InputError
from labelport.export.checks import (
    Check,
    CheckPolicies,
    ExportCheckError,
    Outcome,
    Policy,
    check,
    run_checks,
)
from labelport.export.media import MediaMode
from labelport.export.run import run_export
from labelport.export.selection import restrict_labelsets
from labelport.formats.base import FormatSpec, Report
from labelport.formats.registry import writable_formats
from labelport.sample import build_sample

SCHEMA = LabelSchema(classes=(
    LabelClass(id=1, name="car", attributes=(
        AttributeDef(name="occluded", type=AttributeType.BOOL, required=True),
        AttributeDef(name="colour", type=AttributeType.SELECT, options=("red", "white"),
                     required=True, default="white"),
        AttributeDef(name="passengers", type=AttributeType.INT, min=0, max=9),
        AttributeDef(name="truncation", type=AttributeType.FLOAT, min=0.0, max=1.0),
        AttributeDef(name="plate", type=AttributeType.STRING),
    )),
    LabelClass(id=2, name="building", geometry=GeometryKind.POLYGON),
    LabelClass(id=3, name="sign", geometry=GeometryKind.ROTATED_BOX),
    LabelClass(id=4, name="road", geometry=GeometryKind.MASK),
))
OK_CAR = {"occluded": False, "colour": "red"}
"""Attributes that pass every check."""


def _item(path: str = "a.jpg", *, dataset: str = "train", uri: str | None = None) -> Item:
    return Item(dataset=dataset, path=path, width=320, height=240, media_uri=uri)


def _record(*annotations: Annotation, item: Item | None = None,
            split: str | None = None) -> ItemRecord:
    return ItemRecord(item=item or _item(), annotations=annotations, split=split)


def _car(geometry: Geometry | None = None, **attributes: object) -> Annotation:
    return Annotation(label="car", geometry=geometry or Box(x=10, y=10, w=20, h=20),
                      attributes=OK_CAR | attributes)


def _source(*records: ItemRecord) -> MemorySource:
    return MemorySource(project=ProjectInfo(name="p"), schema=SCHEMA, items=records)


def _every(policy: Policy, **other: Any) -> CheckPolicies:
    """``policy`` for every check, but those named in ``other``."""
    chosen: dict[str, Any] = {c.value: policy for c in Check}
    return CheckPolicies(**(chosen | other))


def _only(name: Check, policy: Policy, **other: Any) -> CheckPolicies:
    """Every check skipped except ``name``, so a case sees one check's effect."""
    return _every(Policy.SKIP, **({name.value: policy} | other))


def _pass(source: ExportSource, policies: CheckPolicies) -> tuple[list[ItemRecord], Report]:
    report = Report()
    return list(check(source, policies, report).records()), report


# --- each check, one problem under each policy -------------------------------------------------

BAD_POLYGON = Polygon.simple((0, 0, 10, 10, 10, 0, 0, 10))  # a bow tie: its edges cross
TWO_POINTS = Polygon.simple((0, 0, 10, 10))

# (check, annotation with the problem, outcome under fix, annotation after fix or None)
ANNOTATION_CASES = [
    (Check.UNKNOWN_CLASS, Annotation(label="bus", geometry=Box(x=1, y=1, w=5, h=5)),
     Outcome.DROPPED, None),
    (Check.DEGENERATE, _car(Box(x=1, y=1, w=0, h=5)), Outcome.DROPPED, None),
    (Check.DEGENERATE, _car(Box(x=1, y=1, w=5, h=-2)), Outcome.DROPPED, None),
    (Check.DEGENERATE, _car(Box(x=float("nan"), y=1, w=5, h=5)), Outcome.DROPPED, None),
    (Check.DEGENERATE, Annotation(label="sign", geometry=RotatedBox(cx=50, cy=50, w=0, h=5,
                                                                    angle_deg=30)),
     Outcome.DROPPED, None),
    (Check.POLYGON, Annotation(label="building", geometry=BAD_POLYGON), Outcome.DROPPED, None),
    (Check.POLYGON, Annotation(label="building", geometry=TWO_POINTS), Outcome.DROPPED, None),
    (Check.ATTRIBUTE_VALUE, _car(passengers=12), Outcome.REMOVED_VALUE, _car()),
    (Check.ATTRIBUTE_VALUE, _car(passengers=True), Outcome.REMOVED_VALUE, _car()),
    (Check.ATTRIBUTE_VALUE, _car(passengers=1.5), Outcome.REMOVED_VALUE, _car()),
    (Check.ATTRIBUTE_VALUE, _car(truncation=-0.1), Outcome.REMOVED_VALUE, _car()),
    (Check.ATTRIBUTE_VALUE, _car(truncation="half"), Outcome.REMOVED_VALUE, _car()),
    (Check.ATTRIBUTE_VALUE, _car(plate=7), Outcome.REMOVED_VALUE, _car()),
    (Check.ATTRIBUTE_VALUE, Annotation(label="car", geometry=Box(x=1, y=1, w=5, h=5),
                                       attributes={"occluded": False, "colour": "green"}),
     Outcome.REMOVED_VALUE, Annotation(label="car", geometry=Box(x=1, y=1, w=5, h=5),
                                       attributes={"occluded": False})),
    (Check.REQUIRED_ATTRIBUTE, Annotation(label="car", geometry=Box(x=1, y=1, w=5, h=5),
                                          attributes={"occluded": True}),
     Outcome.FILLED_DEFAULT, _car(Box(x=1, y=1, w=5, h=5), colour="white", occluded=True)),
    (Check.REQUIRED_ATTRIBUTE, Annotation(label="car", geometry=Box(x=1, y=1, w=5, h=5),
                                          attributes={"colour": "red", "occluded": None}),
     Outcome.DROPPED, None),
]


@pytest.mark.parametrize(("name", "annotation", "fixed", "after_fix"), ANNOTATION_CASES)
@pytest.mark.parametrize("policy", list(Policy))
def test_annotation_check_under_each_policy(name: Check, annotation: Annotation,
                                            fixed: Outcome, after_fix: Annotation | None,
                                            policy: Policy) -> None:
    good = _car()
    source = _source(_record(good, annotation))
    policies = _only(name, policy)
    if policy is Policy.FAIL:
        with pytest.raises(ExportCheckError, match=rf"{name.value} failed on train/a\.jpg "
                                                   r"annotation 1: "):
            _pass(source, policies)
        return
    (record,), report = _pass(source, policies)
    expected = {Policy.WARN: annotation, Policy.SKIP: annotation, Policy.FIX: after_fix}[policy]
    assert record.annotations == ((good, expected) if expected else (good,))
    outcome = {Policy.WARN: Outcome.WARNED, Policy.FIX: fixed}.get(policy)
    checked = {f"check {name.value}: {outcome.value}": 1} if outcome else {}
    assert dict(report.counts) == checked
    assert len(report.messages) == (1 if outcome else 0)


def test_attribute_value_fix_leaves_a_required_attribute_to_its_own_check() -> None:
    """A bad required value is removed, then the required check fills the default or drops."""
    bad_colour = _car(colour="green")
    bad_flag = _car(occluded="yes")
    source = _source(_record(bad_colour, bad_flag))
    fix_both = _only(Check.ATTRIBUTE_VALUE, Policy.FIX, required_attribute=Policy.FIX)
    (record,), report = _pass(source, fix_both)
    assert record.annotations == (_car(colour="white"),)
    assert report.counts == {"check attribute_value: value removed": 2,
                             "check required_attribute: filled with the default": 1,
                             "check required_attribute: dropped": 1}


def test_unknown_class_skips_the_attribute_checks() -> None:
    bus = Annotation(label="bus", geometry=Box(x=1, y=1, w=5, h=5), attributes={"x": 1})
    summary = run_checks(_source(_record(bus)), CheckPolicies(unknown_class=Policy.WARN))
    assert set(summary.counts) == {Check.UNKNOWN_CLASS}


def test_first_dropping_check_wins() -> None:
    """A degenerate box with bad attributes is dropped once, counted by `degenerate` only."""
    annotation = _car(Box(x=1, y=1, w=0, h=0), passengers=99)
    summary = run_checks(_source(_record(annotation)), CheckPolicies())
    assert summary.counts == {Check.DEGENERATE: {Outcome.DROPPED: 1}}


@pytest.mark.parametrize(("w", "min_box_px", "degenerate"), [
    (0.5, 1e-6, False), (0.5, 1.0, True), (1.0, 1.0, False), (1e-7, 1e-6, True),
])
def test_minimum_box_size(w: float, min_box_px: float, degenerate: bool) -> None:
    source = _source(_record(_car(Box(x=1, y=1, w=w, h=5))))
    summary = run_checks(source, CheckPolicies(min_box_px=min_box_px))
    assert (Check.DEGENERATE in summary.counts) is degenerate


def test_valid_geometry_passes_every_check() -> None:
    annotations = (
        _car(Box(x=300, y=220, w=20, h=20), passengers=2, truncation=0.5, plate="X"),
        _car(passengers=3.0),
        Annotation(label="building", geometry=Polygon.simple((10, 10, 50, 10, 50, 40))),
        Annotation(label="sign", geometry=RotatedBox(cx=50, cy=50, w=10, h=5, angle_deg=45)),
        Annotation(label="road", geometry=Mask(counts="0", height=240, width=320)),
        Annotation(label="car", geometry=NoGeometry(), attributes=OK_CAR),
    )
    source = _source(_record(*annotations))
    strict = _every(Policy.FAIL, missing_media=Policy.SKIP)
    assert run_checks(source, strict).counts == {}
    (record,), report = _pass(source, strict)
    assert record == source.items[0]
    assert not report.counts and not report.messages


# --- outside the image: counted, never clipped here ---------------------------------------------

@pytest.mark.parametrize("geometry", [
    Box(x=300, y=10, w=40, h=10),
    Polygon.simple((-5, 10, 50, 10, 50, 40)),
    Mask(counts="0", height=10, width=10),
])
def test_outside_is_counted_and_left_to_the_writer(geometry: Geometry) -> None:
    label = {"box": "car", "polygon": "building", "mask": "road"}[geometry.kind.value]
    annotation = Annotation(label=label, geometry=geometry,
                            attributes=OK_CAR if label == "car" else {})
    source = _source(_record(annotation))
    (record,), report = _pass(source, _only(Check.OUTSIDE, Policy.WARN))
    assert record.annotations == (annotation,)
    assert report.counts == {"check outside: kept with a warning": 1}
    with pytest.raises(ExportCheckError, match="outside failed on train/a.jpg annotation 0"):
        _pass(source, _only(Check.OUTSIDE, Policy.FAIL))
    assert _pass(source, _only(Check.OUTSIDE, Policy.SKIP))[1].counts == {}


@pytest.mark.parametrize("name", [Check.OUTSIDE, Check.DUPLICATE_NAMES])
def test_checks_the_writers_resolve_have_no_fix(name: Check) -> None:
    with pytest.raises(InputError, match=f"{name.value} has no policy 'fix'"):
        CheckPolicies.parse([f"{name.value}=fix"])
    with pytest.raises(InputError, match="valid policies: fail, warn, skip"):
        _every(Policy.WARN, **{name.value: Policy.FIX})


# --- missing media -----------------------------------------------------------------------------

def _media_source(tmp_path: Path) -> MemorySource:
    present = tmp_path / "b c.jpg"
    present.write_bytes(b"jpeg")
    return _source(
        _record(_car(), item=_item("a.jpg", uri=str(present))),
        _record(_car(), item=_item("b.jpg", uri=present.as_uri())),
        _record(_car(), item=_item("c.jpg", uri=str(tmp_path / "gone.jpg"))),
        _record(_car(), item=_item("d.jpg", uri=None)),
        _record(_car(), item=_item("e.jpg", uri="https://example.com/e.jpg")),
        _record(_car(), item=_item("f.jpg", uri="s3://bucket/f.jpg")),
    )


def test_missing_media_under_each_policy(tmp_path: Path) -> None:
    source = _media_source(tmp_path)
    with pytest.raises(ExportCheckError, match=r"missing_media failed on train/c\.jpg: media "
                                               r"not found at .*gone\.jpg"):
        _pass(source, _only(Check.MISSING_MEDIA, Policy.FAIL))

    records, report = _pass(source, _only(Check.MISSING_MEDIA, Policy.WARN))
    assert [r.item.path for r in records] == ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg", "f.jpg"]
    assert report.counts == {"check missing_media: kept with a warning": 2,
                             "check missing_media: not checked: remote media": 2}
    assert "train/d.jpg: no media URI" in report.messages[0]

    fixed = check(source, _only(Check.MISSING_MEDIA, Policy.FIX), Report())
    assert len(fixed) == 4
    assert [r.item.path for r in fixed.records()] == ["a.jpg", "b.jpg", "e.jpg", "f.jpg"]

    assert _pass(source, _only(Check.MISSING_MEDIA, Policy.SKIP))[1].counts == {}


@pytest.mark.parametrize(("media", "policy"), [
    (MediaMode.NONE, Policy.SKIP), (MediaMode.COPY, Policy.WARN), (MediaMode.SYMLINK, Policy.WARN),
])
def test_missing_media_default_follows_the_media_mode(media: MediaMode, policy: Policy) -> None:
    assert CheckPolicies.parse([], media=media).missing_media is policy
    assert CheckPolicies.parse(["missing_media=fail"], media=media).missing_media is Policy.FAIL


# --- duplicate output names --------------------------------------------------------------------

def test_duplicate_names_report_the_writers_rename() -> None:
    source = _source(
        _record(item=_item("x/a.jpg", dataset="train")),
        _record(item=_item("x/a.jpg", dataset="field")),   # same path: renamed
        _record(item=_item("X/A.png", dataset="field")),   # same stem, other case: renamed
        _record(item=_item("x/a.jpg", dataset="val"), split="val"),  # another split's folder
        _record(item=_item("b.jpg", dataset="field")),
    )
    records, report = _pass(source, _only(Check.DUPLICATE_NAMES, Policy.WARN))
    assert records == list(source.items)  # the writers rename; records are unchanged
    assert report.counts == {"check duplicate_names: renamed": 2}
    assert ("field/x/a.jpg: 'x/a.jpg' is taken by an earlier item; written as "
            "'x/a__field.jpg'" in report.messages[0])
    assert "written as 'X/A__field-2.png'" in report.messages[0]
    with pytest.raises(ExportCheckError, match=r"duplicate_names failed on field/x/a\.jpg"):
        _pass(source, _only(Check.DUPLICATE_NAMES, Policy.FAIL))
    assert _pass(source, _only(Check.DUPLICATE_NAMES, Policy.SKIP))[1].counts == {}


def test_one_name_in_two_folders_is_no_duplicate() -> None:
    """Formats keep folders (``a/x.jpg`` and ``b/x.jpg`` are written as they are), so only a
    path the formats write twice is a duplicate."""
    source = _source(_record(item=_item("a/x.jpg")), _record(item=_item("b/x.jpg")),
                     _record(item=_item("x.jpg")))
    _, report = _pass(source, _only(Check.DUPLICATE_NAMES, Policy.FAIL))
    assert report.counts == {}


# --- policies ----------------------------------------------------------------------------------

def test_default_policies() -> None:
    assert CheckPolicies.parse([]).to_json() == {
        "unknown_class": "fail", "degenerate": "fix", "polygon": "fix", "outside": "warn",
        "attribute_value": "warn", "required_attribute": "warn", "missing_media": "skip",
        "duplicate_names": "warn", "min_box_px": 1e-6,
    }


def test_parse_repeated_and_comma_separated() -> None:
    policies = CheckPolicies.parse(["degenerate=fail", "polygon=warn, unknown_class=fix",
                                    "degenerate=skip"], min_box_px=2.0)
    assert policies == CheckPolicies(degenerate=Policy.SKIP, polygon=Policy.WARN,
                                     unknown_class=Policy.FIX, min_box_px=2.0)


@pytest.mark.parametrize(("spec", "message"), [
    ("degenerate", "expected NAME=POLICY"),
    ("degenerate=", "expected NAME=POLICY"),
    ("boxes=fail", "unknown check 'boxes'; valid checks: unknown_class, degenerate, polygon, "
                   "outside, attribute_value, required_attribute, missing_media, "
                   "duplicate_names"),
    ("degenerate=ignore", "no policy 'ignore'; valid policies: fail, warn, fix, skip"),
])
def test_parse_errors_say_what_is_valid(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        CheckPolicies.parse([spec])


def test_policies_from_strings_are_checked() -> None:
    """The API builds policies from JSON strings: they become `Policy` values, or an error."""
    assert _every(Policy.WARN, degenerate="fail").degenerate is Policy.FAIL
    with pytest.raises(InputError, match="degenerate has no policy 'ignore'"):
        _every(Policy.WARN, degenerate="ignore")


@pytest.mark.parametrize("min_box_px", [0.0, -1.0, float("nan")])
def test_minimum_box_size_must_be_positive(min_box_px: float) -> None:
    with pytest.raises(InputError, match="positive number of pixels"):
        CheckPolicies(min_box_px=min_box_px)


# --- the summary of a check run ----------------------------------------------------------------

def test_run_checks_reports_everything_without_stopping() -> None:
    records = [_record(Annotation(label="bus", geometry=Box(x=1, y=1, w=5, h=5)),
                       _car(Box(x=1, y=1, w=0, h=5)), item=_item(f"{i}.jpg"))
               for i in range(7)]
    summary = run_checks(_source(*records), CheckPolicies(), examples=3)
    assert summary.failed
    assert (summary.items, summary.annotations) == (7, 14)
    assert summary.counts == {Check.UNKNOWN_CLASS: {Outcome.FAILED: 7},
                              Check.DEGENERATE: {Outcome.DROPPED: 7}}
    assert [p.item for p in summary.examples[Check.UNKNOWN_CLASS]] == [
        "train/0.jpg", "train/1.jpg", "train/2.jpg"]
    assert summary.examples[Check.DEGENERATE][0].annotation == 1
    assert summary.lines()[0] == (
        "check unknown_class (fail): 7 failed; e.g. train/0.jpg annotation 0: class 'bus' is "
        "not in the schema; train/1.jpg annotation 0: class 'bus' is not in the schema; "
        "train/2.jpg annotation 0: class 'bus' is not in the schema")
    assert summary.lines()[1].startswith("check degenerate (fix): 7 dropped; e.g. train/0.jpg "
                                         "annotation 1: box of 0 x 5 px is below the minimum")
    as_json = summary.to_json()
    assert as_json["counts"] == {"unknown_class": {"failed": 7}, "degenerate": {"dropped": 7}}
    assert as_json["examples"]["degenerate"][0] == {
        "check": "degenerate", "item": "train/0.jpg", "annotation": 1,
        "message": "box of 0 x 5 px is below the minimum side of 1e-06 px",
        "outcome": "dropped"}
    assert as_json["policies"] == CheckPolicies().to_json()


def test_a_clean_source_has_an_empty_summary() -> None:
    summary = run_checks(_source(_record(_car())), CheckPolicies())
    assert not summary.failed and summary.counts == {} and summary.lines() == []


# --- streaming and the report -----------------------------------------------------------------

def _counted_stream(n: int) -> tuple[StreamSource, list[int]]:
    """A source that yields ``n`` records made on demand and counts how many were pulled."""
    pulled = [0]

    def records() -> Iterator[ItemRecord]:
        for i in range(n):
            pulled[0] += 1
            yield _record(_car(Box(x=1, y=1, w=0 if i % 2 else 5, h=5)), item=_item(f"{i}.jpg"))

    return StreamSource(project=ProjectInfo(name="p"), schema=SCHEMA, count=n,
                        open_records=records), pulled


def test_the_stage_streams() -> None:
    source, pulled = _counted_stream(1000)
    stream = check(source, CheckPolicies(), Report()).records()
    next(stream), next(stream)
    assert pulled[0] == 2
    summary = run_checks(source, CheckPolicies())
    assert summary.items == 1000 and summary.counts == {Check.DEGENERATE: {Outcome.DROPPED: 500}}
    assert len(summary.examples[Check.DEGENERATE]) == 5


def test_a_second_pass_is_not_counted_twice() -> None:
    source, _ = _counted_stream(10)
    report = Report()
    checked = check(source, CheckPolicies(), report)
    assert len(checked) == 10
    first = list(checked.records())
    assert list(checked.records()) == first
    assert report.counts == {"check degenerate: dropped": 5}
    assert len(report.messages) == 1


# --- the sample project ------------------------------------------------------------------------

def test_sample_passes_the_default_policies(tmp_path: Path) -> None:
    """The sample is clean but for one deliberate edge case: its model predictions carry no
    attributes, so the predicted car lacks the required ``occluded`` (a warning). Its car that
    touches the right and bottom edges is inside the image (the border belongs to it)."""
    sample = build_sample(tmp_path / "media")
    policies = CheckPolicies.parse([], media=MediaMode.COPY)
    summary = run_checks(sample, policies)
    assert not summary.failed
    assert summary.counts == {Check.REQUIRED_ATTRIBUTE: {Outcome.WARNED: 1}}
    (problem,) = summary.examples[Check.REQUIRED_ATTRIBUTE]
    predicted = next(r for r in sample.items if r.item.key == problem.item)
    assert predicted.annotations[problem.annotation or 0].labelset == "predictions"

    records, report = _pass(sample, policies)
    assert records == list(sample.items)
    assert report.counts == {"check required_attribute: kept with a warning": 1}

    ground_truth = restrict_labelsets(sample, ["ground-truth"])
    assert run_checks(ground_truth, policies).counts == {}


def test_sample_with_every_check_failing_fails_on_the_prediction(tmp_path: Path) -> None:
    sample = build_sample(tmp_path / "media")
    strict = _every(Policy.FAIL)
    with pytest.raises(ExportCheckError, match=r"required_attribute failed on "
                                               r"train-pool/street_001\.png annotation 3: "
                                               r"required attribute 'occluded' is missing"):
        _pass(sample, strict)
    moved = replace(sample, items=tuple(
        replace(r, item=replace(r.item, media_uri=str(tmp_path / "nowhere.png")))
        for r in sample.items))
    assert run_checks(moved, CheckPolicies(missing_media=Policy.WARN)).counts[
        Check.MISSING_MEDIA] == {Outcome.WARNED: 9}


@pytest.mark.parametrize("spec", writable_formats(), ids=lambda spec: spec.name)
def test_every_writer_reads_the_checked_stream(spec: FormatSpec, tmp_path: Path) -> None:
    sample = build_sample(tmp_path / "media")
    fixed = replace(sample, items=(
        *sample.items, _record(Annotation(label="car", geometry=Box(x=1, y=1, w=0, h=3),
                                          attributes={"occluded": True}),
                               item=_item("degenerate.png", dataset="field"))))
    report = Report()
    result = run_export(check(fixed, CheckPolicies(), report), spec, tmp_path / "out")
    assert result.counts.items == len(fixed.items)
    assert result.counts.annotations == sum(len(r.annotations) for r in sample.items)
    assert report.counts["check degenerate: dropped"] == 1
