"""Label Studio video tasks (``videorectangle``): ``labelstudio_video``.

Layout::

    tasks.json            a JSON list: one task per video
    label_config.xml      the labelling config: <Video>, <VideoRectangle>, <Labels>
    videos/<file name>    (with --media copy or symlink)

A task, as Label Studio exports a video task::

    {"id": 1, "data": {"video": "videos/clip.mp4"},
     "meta": {"width": 64, "height": 48, "frame_count": 12, "frame_rate": "10"},
     "annotations": [{"result": [
       {"id": "1", "type": "videorectangle", "from_name": "box", "to_name": "video",
        "origin": "manual",
        "value": {"framesCount": 12, "duration": 1.2, "labels": ["car"], "sequence": [
          {"frame": 1, "enabled": true, "rotation": 0, "x": 3.125, "y": 20.833,
           "width": 18.75, "height": 16.667, "time": 0.0}, ...]}}]}]}

Conventions:
- A track is one ``videorectangle`` result whose ``sequence`` holds its keyframes; ``frame``
  is 1-based (labelport's frame ``n`` is ``n + 1``), ``time`` is the frame's start in seconds
  (`labelport.domain.video`), coordinates are percentages of the video's size with the
  rotation clockwise about the top-left corner (as Label Studio's image rectangles).
- Label Studio's ``enabled: false`` shows the object on its keyframe and hides it until the
  next: labelport's ``outside`` keyframe on frame ``g`` is written as a keyframe on ``g - 1``
  (the object where it last shows, interpolated) with ``enabled: false``.
- The result ``id`` is the track's instance id; ``meta`` holds the video's size, frame count
  and rate (Label Studio keeps a task's ``meta``), so the file reads back without the video.
- Only boxes and rotated boxes are tracked in Label Studio's video tools; other geometries,
  attributes (``occluded`` among them), scores and images are counted and not written. A shape
  on one frame and on no track is a one-keyframe sequence with ``enabled: false`` (counted).

Reading takes ``tasks.json`` or a folder holding it: each ``videorectangle`` sequence becomes
a track whose keyframes are reduced to those that interpolate back to the frames Label Studio
shows (`reduce_to_keyframes`), so labelport -> Label Studio -> labelport gives the same
keyframes. The video is found beside the file (``videos/``, or the ``videos`` option) and
probed; without it, ``meta`` gives its size; neither is an error naming the task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import orjson

from labelport.domain.geometry import Box, GeometryKind, RotatedBox
from labelport.domain.model import DEFAULT_DATASET, Annotation, Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.domain.tracks import (
    expand_track,
    interpolate_geometry,
    reduce_to_keyframes,
    split_tracks,
)
from labelport.domain.video import VideoInfo, rate_from_text, rate_to_text, time_of
from labelport.errors import InputError
from labelport.formats._shared.image_files import readable_file
from labelport.formats._shared.input_files import is_folder, is_regular_file, read_bytes
from labelport.formats._shared.json_input import decode_json
from labelport.formats._shared.naming import FileNamer
from labelport.formats._shared.xml_text import XmlText
from labelport.formats.base import Conventions, FormatSpec, WriteContext
from labelport.formats.labelstudio._values import box_to_ls, rectangle_from_ls, rotated_box_to_ls
from labelport.video.probe import probe_video

TASKS_FILE = "tasks.json"
CONFIG_FILE = "label_config.xml"
VIDEOS_DIR = "videos"
_FROM, _TO = "box", "video"

Json = dict[str, Any]


# --- writing ---------------------------------------------------------------------------------


def _rectangle(annotation: Annotation, item: Item, ctx: WriteContext) -> Json | None:
    size = (item.width, item.height)
    match annotation.geometry:
        case Box() as box:
            return box_to_ls(box, image_wh=size)
        case RotatedBox() as rotated:
            return rotated_box_to_ls(rotated, image_wh=size)
    ctx.report.count(f"not written: {annotation.geometry.kind.value} on a video (Label Studio "
                     "tracks rectangles)")
    return None


def _sequence(keyframes: list[Annotation], item: Item, ctx: WriteContext) -> list[Json]:
    """Label Studio's keyframes of one track: visible keyframes, each outside keyframe as the
    frame before it with ``enabled: false``."""
    rate = item.video.frame_rate if item.video is not None else None
    sequence: list[Json] = []
    for index, key in enumerate(keyframes):
        frame = key.frame or 0
        if key.outside:
            if not sequence or sequence[-1]["frame"] >= frame:  # hidden from its first frame on
                if sequence:
                    sequence[-1]["enabled"] = False
                continue
            previous = keyframes[index - 1]
            start = previous.frame or 0
            last = interpolate_geometry(previous.geometry, key.geometry,
                                        (frame - 1 - start) / (frame - start))
            value = _rectangle(replace(previous, geometry=last), item, ctx)
            if value is not None:
                sequence.append(_keyframe(frame - 1, value, rate, enabled=False))
            continue
        value = _rectangle(key, item, ctx)
        if value is not None:
            sequence.append(_keyframe(frame, value, rate, enabled=True))
    return sequence


def _keyframe(frame: int, value: Json, rate: Fraction | None, *, enabled: bool) -> Json:
    return {"frame": frame + 1, "enabled": enabled, **value,
            "time": time_of(frame, rate) if rate else 0.0}


def _task(task_id: int, record: ItemRecord, reference: str, ctx: WriteContext) -> Json:
    item = record.item
    tracks, others = split_tracks(record.annotations)
    results: list[Json] = []
    groups: list[tuple[int | None, list[Annotation]]] = [
        (key[1], keys) for key, keys in tracks.items()]
    for annotation in others:
        if annotation.frame is None:
            ctx.report.count("not written: annotation without a frame on a video")
            continue
        ctx.report.count("converted: single-frame shape to a one-keyframe sequence")
        groups.append((None, [annotation]))
    used = {track for track, _ in groups if track is not None}
    free = max(used, default=0) + 1
    for track, keyframes in groups:
        sequence = _sequence(keyframes, item, ctx)
        if track is None:
            track, free = free, free + 1
            if sequence:
                sequence[-1]["enabled"] = False
        if not sequence:
            continue
        first = keyframes[0]
        if any(k.attributes for k in keyframes):
            ctx.report.count("not written: attributes")
        if any(k.score is not None for k in keyframes):
            ctx.report.count("not written: score")
        value: Json = {"framesCount": item.frame_count, "labels": [first.label],
                       "sequence": sequence}
        if item.video is not None:
            value["duration"] = item.video.duration_s
        results.append({"id": str(track), "type": "videorectangle", "from_name": _FROM,
                        "to_name": _TO, "origin": "manual", "value": value})
    meta: Json = {"width": item.width, "height": item.height, "frame_count": item.frame_count}
    if item.video is not None:
        meta["frame_rate"] = rate_to_text(item.video.frame_rate)
    return {"id": task_id, "data": {"video": reference}, "meta": meta,
            "annotations": [{"result": results}]}


def _config(schema: LabelSchema, rate: Fraction | None, text: XmlText) -> str:
    labels = "".join(
        f'\n    <Label value="{text.attribute(c.name)}"'
        + (f' background="{text.attribute(c.color)}"' if c.color else "") + "/>"
        for c in schema.classes)
    framerate = f' framerate="{float(rate):g}"' if rate else ""
    return (f'<View>\n  <Labels name="videoLabels" toName="{_TO}" allowEmpty="true">{labels}\n'
            f'  </Labels>\n  <Video name="{_TO}" value="$video"{framerate}/>\n'
            f'  <VideoRectangle name="{_FROM}" toName="{_TO}"/>\n</View>\n')


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """``tasks.json`` (tasks written as they come) and ``label_config.xml``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    namer = FileNamer()
    rate: Fraction | None = None
    done = 0
    with (out_dir / TASKS_FILE).open("wb") as f:
        f.write(b"[")
        for done, record in enumerate(source.records(), start=1):
            item = record.item
            if not item.is_video:
                ctx.report.count("not written: image item (labelstudio_video holds videos)")
                continue
            rate = rate or (item.video.frame_rate if item.video is not None else None)
            name = namer.name(item, VIDEOS_DIR)
            target = out_dir / VIDEOS_DIR / name
            ctx.place_media(item, target)
            reference = ctx.media_reference(item, target, f"{VIDEOS_DIR}/{name}")
            task = _task(done, record, reference, ctx)
            f.write((b"\n" if f.tell() == 1 else b",\n") + orjson.dumps(task))
            ctx.progress(done)
        f.write(b"\n]\n")
    (out_dir / CONFIG_FILE).write_text(_config(source.schema, rate, XmlText(ctx)),
                                       encoding="utf-8", newline="\n")
    ctx.progress(done)


# --- reading ---------------------------------------------------------------------------------


def _fail(origin: Path, at: str, what: str) -> InputError:
    return InputError(f"{origin}: at {at}: {what}")


def _item(task: Json, at: str, origin: Path, video_dirs: list[Path]) -> Item:
    data = task.get("data")
    reference = data.get("video") if isinstance(data, dict) else None
    if not isinstance(reference, str) or not reference:
        raise _fail(origin, f"{at}.data.video", "expected the video's path or URL")
    name = reference.rsplit("/", 1)[-1].split("?", 1)[0]
    for folder in video_dirs:
        found = folder / name
        if readable_file(found):
            probed = probe_video(found)
            return Item(dataset=DEFAULT_DATASET, path=name, width=probed.width,
                        height=probed.height, media_uri=str(found.absolute()),
                        frame_count=probed.frame_count, video=probed.info)
    meta = task.get("meta")
    try:
        assert isinstance(meta, dict)
        width, height, frames = int(meta["width"]), int(meta["height"]), int(meta["frame_count"])
        rate = meta.get("frame_rate")
        video = None if rate is None else VideoInfo(
            frame_rate=rate_from_text(str(rate)),
            duration_s=float(frames / rate_from_text(str(rate))))
    except (AssertionError, KeyError, TypeError, ValueError, ZeroDivisionError):
        raise _fail(origin, f"{at}.meta", f"video {name!r} not found beside the file, and no "
                    "meta with its width, height and frame_count") from None
    if width <= 0 or height <= 0 or frames <= 0:
        raise _fail(origin, f"{at}.meta", "width, height and frame_count must be positive")
    return Item(dataset=DEFAULT_DATASET, path=name, width=width, height=height,
                media_uri=reference, frame_count=frames, video=video)


def _track(result: Json, at: str, origin: Path, item: Item, track: int) -> list[Annotation]:
    value = result.get("value")
    if not isinstance(value, dict):
        raise _fail(origin, f"{at}.value", "expected an object")
    labels = value.get("labels")
    if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
        raise _fail(origin, f"{at}.value.labels", "expected one label name")
    sequence = value.get("sequence")
    if not isinstance(sequence, list) or not sequence:
        raise _fail(origin, f"{at}.value.sequence", "expected a list of keyframes")
    keyframes: list[Annotation] = []
    for index, key in enumerate(sequence):
        where = f"{at}.value.sequence[{index}]"
        try:
            frame = int(key["frame"]) - 1
            geometry = rectangle_from_ls(key, image_wh=(item.width, item.height))
            enabled = key.get("enabled", True) is not False
        except (KeyError, TypeError, ValueError) as error:
            raise _fail(origin, where, f"expected frame, x, y, width, height ({error})") \
                from None
        if not 0 <= frame < (item.frame_count or frame + 1):
            raise _fail(origin, f"{where}.frame", f"frame {frame + 1} is not in the video "
                        f"(1 to {item.frame_count})")
        if keyframes and frame <= (keyframes[-1].frame or 0):
            raise _fail(origin, f"{where}.frame", "keyframes must be in increasing frame order")
        keyframes.append(Annotation(label=labels[0], geometry=geometry, frame=frame,
                                    instance_id=track))
        if not enabled:
            keyframes.append(Annotation(label=labels[0], geometry=geometry, frame=frame + 1,
                                        instance_id=track, outside=True))
    shown = [s.annotation for s in expand_track(
        [k for k in keyframes if (k.frame or 0) < (item.frame_count or 1 << 31)],
        frame_count=item.frame_count)]
    return reduce_to_keyframes(shown, frame_count=item.frame_count)


def _record(task: Any, at: str, origin: Path, video_dirs: list[Path]) -> ItemRecord:
    if not isinstance(task, dict):
        raise _fail(origin, at, "expected a task object")
    item = _item(task, at, origin, video_dirs)
    annotations: list[Annotation] = []
    completions = task.get("annotations") or []
    if not isinstance(completions, list):
        raise _fail(origin, f"{at}.annotations", "expected a list")
    taken: set[int] = set()
    for i, completion in enumerate(completions[:1]):
        results = completion.get("result", []) if isinstance(completion, dict) else None
        if not isinstance(results, list):
            raise _fail(origin, f"{at}.annotations[{i}].result", "expected a list")
        for j, result in enumerate(results):
            where = f"{at}.annotations[{i}].result[{j}]"
            if not isinstance(result, dict) or result.get("type") != "videorectangle":
                continue
            raw = str(result.get("id", ""))
            track = int(raw) if raw.isdigit() and int(raw) > 0 and int(raw) not in taken \
                else max(taken, default=0) + 1
            taken.add(track)
            annotations += _track(result, where, origin, item, track)
    return ItemRecord(item=item, annotations=tuple(annotations))


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    path = Path(path)
    file = path / TASKS_FILE if is_folder(path) else path
    if not is_regular_file(file):
        raise InputError(f"{path}: expected {TASKS_FILE} or a folder holding it")
    tasks = decode_json(read_bytes(file), file)
    if not isinstance(tasks, list):
        raise _fail(file, "$", "expected a list of tasks")
    videos = options.get("videos") or options.get("images")  # the CLI's --images folder
    video_dirs = [*([Path(videos)] if videos else []), file.parent / VIDEOS_DIR, file.parent]
    records = tuple(_record(task, f"$[{i}]", file, video_dirs) for i, task in enumerate(tasks))
    names: list[str] = []
    for record in records:
        names += [a.label for a in record.annotations if a.label not in names]
    return MemorySource(project=ProjectInfo(name=file.parent.name),
                        schema=LabelSchema().with_classes(names, GeometryKind.BOX),
                        items=records)


SPEC = FormatSpec(
    name="labelstudio_video",
    title="Label Studio video tasks (videorectangle)",
    extension="json",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.ROTATED_BOX}),
    conventions=Conventions(
        coordinates="percent of the video's size; rotation clockwise about the top-left corner",
        index_base="sequence frames 1-based",
        ids="result id = the track's instance id",
        notes="one task per video; tracks as videorectangle keyframe sequences; an outside "
              "keyframe as the frame before it with enabled false",
    ),
    media=True,
    video=True,
    images=False,
    writer=write,
    reader=read,
    unshardable="video format: a video is one item, not worth sharding",
)
