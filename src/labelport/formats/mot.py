"""MOTChallenge ground truth: ``mot``.

Layout: one sequence per video::

    <sequence>/seqinfo.ini
    <sequence>/gt/gt.txt
    <sequence>/gt/labels.txt
    <sequence>/<video file>        (with media copied or linked)

``<sequence>`` is the video's file name without its extension (made unique). ``seqinfo.ini``
(the keys MOTChallenge's devkit and Datumaro expect, no others)::

    [Sequence]
    name=clip
    imDir=img1
    frameRate=10
    seqLength=12
    imWidth=64
    imHeight=48
    imExt=.jpg

``gt.txt``: one row per object per frame, sorted by frame then id:
``frame,id,bb_left,bb_top,bb_width,bb_height,conf,class,visibility``.

Conventions:
- Frames and track ids are 1-based (labelport's frame ``n`` is MOT's ``n + 1``; a track's
  instance id is its MOT id, so ids above 0 only: other tracks are counted, not written). A
  shape on one frame and on no track has id ``-1``, as in MOT's detection files.
- Boxes are absolute pixels, top-left corner and size, two decimals. Tracks are expanded to
  every frame on which they are visible (`labelport.domain.tracks`), after the export's
  out-of-image policy; other geometries are written as their bounding box (counted).
- ``conf`` is 1, or 0 for an annotation whose ``ignored`` attribute is true (MOT's "not
  considered"); ``class`` is the 1-based index of the label in the schema's order, the names
  listed in ``gt/labels.txt`` (one per line, Datumaro's convention); ``visibility`` is the
  ``visibility`` attribute when it is a number, else 0 for an occluded object and 1 otherwise.
- ``frameRate`` is a whole number (rounded, counted when the video's rate is not).
- Not written (counted): scores, attributes other than these, images (MOT holds videos).

Reading takes a sequence folder, a folder of them, or a ``gt.txt``; rows are validated with
the file and line named. Class names come from ``gt/labels.txt``, else MOT17's classes; a row
without a class (``-1``) is an ``object``. Each track's rows are reduced to the keyframes that
interpolate back to them (`reduce_to_keyframes`), so a round trip gives the same keyframes.
The video is the sequence's video file when there is one (probed), else an item with the
seqinfo's size, length and rate.
"""

from __future__ import annotations

import configparser
from collections import defaultdict
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from labelport.domain.geometry import Box, GeometryKind
from labelport.domain.model import DEFAULT_DATASET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.domain.tracks import expand_track, reduce_to_keyframes, split_tracks
from labelport.domain.video import VideoInfo
from labelport.errors import InputError
from labelport.formats._shared.geometry import box_on_image
from labelport.formats._shared.input_files import read_text
from labelport.formats._shared.naming import FileNamer
from labelport.formats.base import Conventions, FormatSpec, WriteContext
from labelport.video.probe import is_video_name, probe_video

SEQINFO_FILE = "seqinfo.ini"
GT_FILE = "gt/gt.txt"
LABELS_FILE = "gt/labels.txt"
MOT17_CLASSES = ("pedestrian", "person on vehicle", "car", "bicycle", "motorbike",
                 "non motorized vehicle", "static person", "distractor", "occluder",
                 "occluder on the ground", "occluder full", "reflection")
"""MOTChallenge 2017's class ids 1-12, for files without ``labels.txt``."""
UNLABELLED = "object"

_CARRIED = frozenset({"occluded", "visibility", "ignored"})


# --- writing ---------------------------------------------------------------------------------


def _number(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _visibility(annotation: Annotation) -> float:
    value = annotation.attributes.get("visibility")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    return 0.0 if annotation.attributes.get("occluded") is True else 1.0


def _rows(record: ItemRecord, class_index: Mapping[str, int],
          ctx: WriteContext) -> list[tuple[int, int, str]]:
    """``(frame, id, row)`` of every object on every frame of one video."""
    item = record.item
    tracks, others = split_tracks(record.annotations)
    placed: list[tuple[int, Annotation]] = []
    for key, keyframes in tracks.items():
        if key[1] <= 0:
            ctx.report.count("not written: track with an instance id under 1")
            continue
        placed += ((key[1], s.annotation)
                   for s in expand_track(keyframes, frame_count=item.frame_count))
    for annotation in others:
        if annotation.frame is None:
            ctx.report.count("not written: annotation without a frame on a video")
        else:
            placed.append((-1, annotation))
    rows: list[tuple[int, int, str]] = []
    taken: set[tuple[int, int]] = set()
    for track_id, annotation in placed:
        frame = annotation.frame or 0
        if track_id > 0 and (frame, track_id) in taken:
            ctx.report.count("not written: a second object of one track on one frame")
            continue
        box = box_on_image(annotation.geometry, image_wh=(item.width, item.height), ctx=ctx)
        if box is None:
            continue
        taken.add((frame, track_id))
        _count_losses(annotation, ctx)
        conf = 0 if annotation.attributes.get("ignored") is True else 1
        row = ",".join((str(frame + 1), str(track_id), _number(box.x), _number(box.y),
                        _number(box.w), _number(box.h), str(conf),
                        str(class_index[annotation.label]), _number(_visibility(annotation))))
        rows.append((frame, track_id, row))
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def _count_losses(annotation: Annotation, ctx: WriteContext) -> None:
    if annotation.score is not None:
        ctx.report.count("not written: score")
    if set(annotation.attributes) - _CARRIED:
        ctx.report.count("not written: attributes")


def _seqinfo(name: str, item: Item, ctx: WriteContext) -> str:
    rate = item.video.frame_rate if item.video is not None else Fraction(0)
    if rate.denominator != 1:
        ctx.report.count("converted: frame rate rounded to a whole number")
    return "\n".join(["[Sequence]", f"name={name}", "imDir=img1", f"frameRate={round(rate)}",
                      f"seqLength={item.frame_count or 0}", f"imWidth={item.width}",
                      f"imHeight={item.height}", "imExt=.jpg", ""])


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """One sequence folder per video, written one video at a time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    class_index = {name: i for i, name in enumerate(source.schema.class_names, start=1)}
    labels = "".join(f"{name}\n" for name in source.schema.class_names)
    namer = FileNamer(unique_stems=True)
    done = 0
    for done, record in enumerate(source.records(), start=1):
        item = record.item
        if not item.is_video:
            ctx.report.count("not written: image item (mot holds videos)")
            continue
        file_name = namer.name(item)
        name = Path(file_name).stem
        folder = out_dir / name
        (folder / "gt").mkdir(parents=True)
        (folder / SEQINFO_FILE).write_text(_seqinfo(name, item, ctx), encoding="utf-8",
                                           newline="\n")
        (folder / LABELS_FILE).write_text(labels, encoding="utf-8", newline="\n")
        rows = _rows(record, class_index, ctx)
        (folder / GT_FILE).write_text("".join(f"{row}\n" for _, _, row in rows),
                                      encoding="utf-8", newline="\n")
        ctx.place_media(item, folder / file_name)
        ctx.progress(done)
    ctx.progress(done)


# --- reading ---------------------------------------------------------------------------------


def _text(path: Path) -> str:
    try:
        return read_text(path)
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror})") from None


def _seq_info(folder: Path) -> dict[str, str]:
    path = folder / SEQINFO_FILE
    if not path.is_file():
        raise InputError(f"{folder}: no {SEQINFO_FILE}: MOT sequences name their size and length "
                         "there")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(_text(path), source=str(path))
        section = dict(parser["Sequence"])
    except (configparser.Error, KeyError) as error:
        raise InputError(f"{path}: expected a [Sequence] section ({error})") from None
    return section


def _int_field(info: Mapping[str, str], key: str, folder: Path) -> int:
    try:
        value = int(info[key.lower()])
    except (KeyError, ValueError):
        raise InputError(f"{folder / SEQINFO_FILE}: expected a whole number {key}, got "
                         f"{info.get(key.lower())!r}") from None
    if value < 0:
        raise InputError(f"{folder / SEQINFO_FILE}: {key} is negative")
    return value


def _item(folder: Path) -> Item:
    info = _seq_info(folder)
    videos = sorted(p for p in folder.iterdir() if p.is_file() and is_video_name(p.name))
    if videos:
        found = probe_video(videos[0])
        return Item(dataset=DEFAULT_DATASET, path=videos[0].name, width=found.width,
                    height=found.height, media_uri=str(videos[0].absolute()),
                    frame_count=found.frame_count, video=found.info)
    length = _int_field(info, "seqLength", folder)
    rate = _int_field(info, "frameRate", folder)
    video = (VideoInfo(frame_rate=Fraction(rate), duration_s=length / rate) if rate else None)
    return Item(dataset=DEFAULT_DATASET, path=info.get("name") or folder.name,
                width=_int_field(info, "imWidth", folder),
                height=_int_field(info, "imHeight", folder), frame_count=length, video=video)


def _labels(folder: Path) -> tuple[str, ...]:
    path = folder / LABELS_FILE
    if not path.is_file():
        return MOT17_CLASSES
    names = tuple(line.strip() for line in _text(path).splitlines() if line.strip())
    if not names:
        raise InputError(f"{path}: no class names")
    return names


def _row(line: str, where: str, labels: tuple[str, ...],
         frame_count: int | None) -> tuple[int, Annotation]:
    cells = [cell.strip() for cell in line.split(",")]
    if len(cells) < 6:
        raise InputError(f"{where}: expected frame,id,bb_left,bb_top,bb_width,bb_height"
                         f"[,conf,class,visibility], got {line.strip()[:80]!r}")
    try:
        frame, track = int(float(cells[0])), int(float(cells[1]))
        x, y, w, h = (float(c) for c in cells[2:6])
        conf = float(cells[6]) if len(cells) > 6 and cells[6] else 1.0
        class_id = int(float(cells[7])) if len(cells) > 7 and cells[7] else -1
        visibility = float(cells[8]) if len(cells) > 8 and cells[8] else 1.0
    except (ValueError, OverflowError):  # OverflowError: int() of an infinite number
        raise InputError(f"{where}: expected numbers, got {line.strip()[:80]!r}") from None
    if not -1 <= track < 2**31:
        raise InputError(f"{where}: track id {track} is not -1 or a 32-bit id")
    if frame < 1 or (frame_count is not None and frame > frame_count):
        raise InputError(f"{where}: frame {frame} is not in the sequence (1 to {frame_count})")
    if not all(map(_finite, (x, y, w, h, conf, visibility))) or w < 0 or h < 0:
        raise InputError(f"{where}: expected finite coordinates and a non-negative size")
    if class_id > len(labels) or class_id == 0 or class_id < -1:
        raise InputError(f"{where}: class {class_id} is not one of 1 to {len(labels)}")
    attributes: dict[str, Any] = {}
    if visibility == 0:
        attributes["occluded"] = True
    elif visibility != 1:
        attributes["visibility"] = visibility
    if conf == 0:
        attributes["ignored"] = True
    label = labels[class_id - 1] if class_id > 0 else UNLABELLED
    return track, Annotation(label=label, geometry=Box(x=x, y=y, w=w, h=h), frame=frame - 1,
                             instance_id=track if track > 0 else None, attributes=attributes)


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def _sequence(folder: Path) -> ItemRecord:
    item = _item(folder)
    labels = _labels(folder)
    gt = folder / GT_FILE
    tracks: dict[int, list[Annotation]] = defaultdict(list)
    singles: list[Annotation] = []
    seen: dict[tuple[int, int], int] = {}
    for number, line in enumerate(_text(gt).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{gt}, line {number}"
        track, annotation = _row(line, where, labels, item.frame_count)
        if track <= 0:
            singles.append(annotation)
            continue
        frame = annotation.frame or 0
        if (frame, track) in seen:
            raise InputError(f"{where}: track {track} is on frame {frame + 1} twice (line "
                             f"{seen[(frame, track)]} too)")
        seen[(frame, track)] = number
        tracks[track].append(annotation)
    annotations: list[Annotation] = []
    for track in sorted(tracks):
        rows = sorted(tracks[track], key=lambda a: a.frame or 0)
        labels_of_track = {a.label for a in rows}
        if len(labels_of_track) > 1:
            raise InputError(f"{gt}: track {track} changes class ({sorted(labels_of_track)})")
        annotations += reduce_to_keyframes(rows, frame_count=item.frame_count)
    return ItemRecord(item=item, annotations=(*annotations, *singles))


def _sequences(path: Path) -> list[Path]:
    if path.is_file() and path.name == "gt.txt":
        return [path.parent.parent]
    if (path / GT_FILE).is_file():
        return [path]
    found = sorted(p.parent.parent for p in path.glob(f"*/{GT_FILE}")) if path.is_dir() else []
    if not found:
        raise InputError(f"{path}: expected a MOT sequence (a folder with {GT_FILE} and "
                         f"{SEQINFO_FILE}), a folder of them, or a gt.txt")
    return found


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read MOT sequences; every sequence is read and checked first (all or nothing)."""
    folders = _sequences(Path(path))
    names: list[str] = []
    for folder in folders:
        record = _sequence(folder)
        names += [n for n in _labels(folder) if n not in names]
        if any(a.label == UNLABELLED for a in record.annotations) and UNLABELLED not in names:
            names.append(UNLABELLED)

    def records() -> Iterator[ItemRecord]:
        for folder in folders:
            yield _sequence(folder)

    schema = LabelSchema().with_classes(names, GeometryKind.BOX)
    name = folders[0].name if len(folders) == 1 else Path(path).name
    return StreamSource(project=ProjectInfo(name=name), schema=schema, count=len(folders),
                        open_records=records)


SPEC = FormatSpec(
    name="mot",
    title="MOTChallenge ground truth (gt.txt + seqinfo.ini)",
    extension="txt",
    geometries=frozenset({GeometryKind.BOX}),
    conventions=Conventions(
        coordinates="absolute pixels; bb_left, bb_top, bb_width, bb_height",
        index_base="frames and track ids 1-based; class = 1-based index in gt/labels.txt",
        ids="track id = instance id; -1 for shapes on no track",
        notes="one sequence folder per video; tracks expanded to every visible frame; "
              "visibility 0 = occluded; conf 0 = ignored",
    ),
    attributes=False,
    media=True,
    video=True,
    images=False,
    writer=write,
    reader=read,
    unshardable="video format: a video is one item, not worth sharding",
)
