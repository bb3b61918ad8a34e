"""CVAT for video 1.1 (XML): ``cvat_video``.

Layout: one CVAT task per video (what CVAT exports for a video task, and imports back)::

    videos/<video file name>/annotations.xml
    videos/<video file name>/<video file name>      (with media copied or linked)

The file::

    <?xml version="1.0" encoding="utf-8"?>
    <annotations>
      <version>1.1</version>
      <meta>
        <task>
          <id>0</id><name>clip.mp4</name><size>12</size><mode>interpolation</mode>
          <overlap>0</overlap><start_frame>0</start_frame><stop_frame>11</stop_frame>
          <subset>train</subset>
          <labels> ... as CVAT for images ... </labels>
          <original_size><width>64</width><height>48</height></original_size>
        </task>
        <source>clip.mp4</source>
      </meta>
      <track id="0" label="car" source="manual" group_id="1">
        <box frame="0" keyframe="1" outside="0" occluded="0" xtl="2.00" ytl="10.00"
             xbr="14.00" ybr="18.00" z_order="0">
          <attribute name="colour">red</attribute>
        </box>
        ...
      </track>
    </annotations>

Conventions:
- Frames are 0-based (CVAT's frame numbers, ``start_frame`` 0, ``stop_frame`` the last).
- A track is written as its keyframes only (``keyframe="1"``), never expanded: CVAT and
  labelport interpolate the frames between the same way (`labelport.domain.tracks`).
  ``outside`` and ``occluded`` are CVAT's: ``outside="1"`` ends the object's visibility until
  the next keyframe; ``occluded`` is the keyframe's ``occluded`` attribute.
- Track ``id`` counts from 0 per video; ``group_id`` is the track's instance id (above 0), so
  reading gives back the same ids. Coordinates, labels, attributes and ``source`` are written as
  in CVAT for images (`labelport.formats.cvat.images`); track keyframes are written as they
  are, outside the frame too (the out-of-image policy applies to frames written as images).
- A track keyframe is one shape: a box, rotated box, polygon (one part, no holes), polyline or
  points; other geometries cannot be tracked in this format and are counted, not written.
- A shape on one frame (``frame`` set, no instance id) is written as a track of one keyframe
  followed by an ``outside`` keyframe on the next frame, as CVAT writes shapes in this format
  (counted); it reads back as a track. Images, and annotations without a frame, are counted
  and not written.

Reading takes ``annotations.xml``, a folder holding it, or a folder of such folders (this
layout); ``keyframe="0"`` shapes (CVAT's own expansion) are dropped, since they follow from the
keyframes. The video is the ``<source>`` file beside the XML (or in the ``videos`` option's
folder), probed with PyAV; without it, the item has the meta's size and frame count but no
frame rate. Items get the dataset ``default``, the source name as path, ``<subset>`` as split.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from labelport.domain.geometry import GeometryKind
from labelport.domain.model import (
    DEFAULT_DATASET,
    Annotation,
    Item,
    ItemRecord,
    ProjectInfo,
    Source,
)
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import ExportSource, StreamSource
from labelport.domain.tracks import split_tracks
from labelport.errors import InputError
from labelport.formats._shared.image_files import readable_file
from labelport.formats._shared.naming import FileNamer
from labelport.formats._shared.xml_text import XmlText
from labelport.formats.base import Conventions, FormatSpec, WriteContext
from labelport.formats.cvat.images import (
    ANNOTATIONS_FILE,
    _attributes,
    _ImageWriter,
    _integer,
    _label_xml,
    _Meta,
    _parse_meta,
    _Place,
    _required,
    _Shape,
    _shape_geometry,
    ended_elements,
)
from labelport.video.probe import probe_video

VIDEOS_DIR = "videos"
_TRACKED = frozenset({"box", "polygon", "polyline", "points"})


# --- writing ---------------------------------------------------------------------------------


def _meta_xml(source: ExportSource, item: Item, split: str, text: XmlText) -> list[str]:
    frames = item.frame_count or 0
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>",
             "  <version>1.1</version>", "  <meta>", "    <task>", "      <id>0</id>",
             f"      <name>{text(item.file_name)}</name>", f"      <size>{frames}</size>",
             "      <mode>interpolation</mode>", "      <overlap>0</overlap>",
             "      <start_frame>0</start_frame>",
             f"      <stop_frame>{max(frames - 1, 0)}</stop_frame>",
             f"      <subset>{text(split)}</subset>", "      <labels>"]
    for label in source.schema.classes:
        lines += [f"  {line}" for line in _label_xml(label, text)]
    lines += ["      </labels>", "      <original_size>",
              f"        <width>{item.width}</width>", f"        <height>{item.height}</height>",
              "      </original_size>", "    </task>",
              f"    <source>{text(item.file_name)}</source>", "  </meta>"]
    return lines


class _TrackWriter:
    """One video's ``<track>`` elements; counts what this format cannot hold."""

    def __init__(self, source: ExportSource, ctx: WriteContext, text: XmlText) -> None:
        self.shapes = _ImageWriter(source.schema, text, ctx)
        self.schema = source.schema
        self.ctx = ctx
        self.text = text

    def _keyframe(self, annotation: Annotation, item: Item, *, outside: bool) -> str | None:
        label = self.schema.get(annotation.label)
        shapes, grouped = self.shapes._geometry_shapes(annotation.geometry, label,
                                                       (item.width, item.height))
        if grouped or len(shapes) != 1 or shapes[0].tag not in _TRACKED:
            self.ctx.report.count(f"not written: {annotation.geometry.kind} keyframe "
                                  "(CVAT tracks hold one box, polygon, polyline or points)")
            return None
        self.shapes._count_losses(annotation)
        shape = shapes[0]
        common = self.shapes._common_fields(annotation, shape, None)
        frame = [("frame", str(annotation.frame)), ("keyframe", "1"),
                 ("outside", str(int(outside)))]
        keyframe = _Shape(shape.tag, frame + [f for f in common if f[0] not in ("label",
                                                                                 "source")],
                          shape.children + self.shapes._attribute_children(annotation, label))
        return keyframe.xml(self.text, "    ")

    def tracks_xml(self, record: ItemRecord) -> list[str]:
        item = record.item
        tracks, others = split_tracks(record.annotations)
        singles: list[list[Annotation]] = []
        for annotation in others:
            if annotation.frame is None:
                self.ctx.report.count("not written: annotation without a frame on a video")
                continue
            self.ctx.report.count("converted: single-frame shape to a one-keyframe track")
            singles.append([annotation])
        lines: list[str] = []
        for track_id, keyframes in enumerate([*tracks.values(), *singles]):
            first = keyframes[0]
            written = []
            for key in keyframes:
                element = self._keyframe(key, item, outside=key.outside)
                if element is not None:
                    written.append(element)
            if not written:
                continue
            if first.instance_id is None and first.frame is not None and (
                    item.frame_count is None or first.frame + 1 < item.frame_count):
                end = self._keyframe(Annotation(label=first.label, geometry=first.geometry,
                                                frame=first.frame + 1, z_order=first.z_order),
                                     item, outside=True)
                if end is not None:
                    written.append(end)
            source = "auto" if first.source is Source.MODEL else "manual"
            head = (f'  <track id="{track_id}" label="{self.text.name(first.label)}" '
                    f'source="{source}"')
            if first.instance_id is not None and first.instance_id > 0:
                head += f' group_id="{first.instance_id}"'
            lines += [head + ">", *written, "  </track>"]
        return lines


def write(source: ExportSource, out_dir: Path, options: Mapping[str, Any],
          ctx: WriteContext) -> None:
    """One folder per video with its ``annotations.xml``, written one video at a time."""
    out_dir.mkdir(parents=True, exist_ok=True)
    text = XmlText(ctx)
    tracks = _TrackWriter(source, ctx, text)
    namer = FileNamer()
    done = 0
    for done, record in enumerate(source.records(), start=1):
        item = record.item
        if not item.is_video:
            ctx.report.count("not written: image item (cvat_video holds videos)")
            continue
        name = namer.name(item, VIDEOS_DIR)
        folder = out_dir / VIDEOS_DIR / name
        folder.mkdir(parents=True)
        ctx.place_media(item, folder / name)
        lines = [*_meta_xml(source, item, record.split or "default", text),
                 *tracks.tracks_xml(record), "</annotations>"]
        (folder / ANNOTATIONS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8",
                                               newline="\n")
        ctx.progress(done)
    ctx.progress(done)


# --- reading ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _VideoFile:
    """One ``annotations.xml`` of a video task, parsed in one streaming pass."""

    path: Path
    video_dirs: list[Path]
    meta: _Meta = field(default_factory=_Meta)
    seen: list[str] = field(default_factory=list)

    def _item(self, meta: Element) -> tuple[Item, str | None]:
        task = meta.find("task")
        place = _Place(self.path, "<meta>")
        if task is None:
            raise place.error("expected a <task> (CVAT for video exports one task)")
        source = (meta.findtext("source") or task.findtext("name") or "").strip()
        if not source:
            raise place.error("expected a <source> naming the video")
        name = Path(source).name
        for folder in self.video_dirs:
            if readable_file(folder / name):
                video = probe_video(folder / name)
                return Item(dataset=DEFAULT_DATASET, path=name, width=video.width,
                            height=video.height, media_uri=str((folder / name).absolute()),
                            frame_count=video.frame_count, video=video.info), task.findtext(
                                "subset")
        try:
            width = int(task.findtext("original_size/width") or "")
            height = int(task.findtext("original_size/height") or "")
            size = int(task.findtext("size") or "")
        except ValueError:
            raise place.error(f"video {name!r} not found beside the file, and <task> has no "
                              "<original_size> and <size> to describe it") from None
        return (Item(dataset=DEFAULT_DATASET, path=name, width=width, height=height,
                     frame_count=size), task.findtext("subset"))

    def _track(self, element: Element, number: int, item: Item) -> tuple[int, list[Annotation]]:
        """The track's ``group_id`` (0 when none) and its keyframes, without instance ids."""
        place = _Place(self.path, f"<track> {number} (id {element.get('id')!r})")
        label = _required(place, element, "label")
        label_class = next((c for c in self.meta.classes if c.name == label), None)
        group = _integer(place, element, "group_id", default="0")
        source = Source.MODEL if element.get("source") == "auto" else Source.HUMAN
        found: list[Annotation] = []
        for index, shape in enumerate(element, start=1):
            if shape.tag not in _TRACKED:
                raise place.error(f"<{shape.tag}> {index}: not a shape CVAT tracks "
                                  f"({', '.join(sorted(_TRACKED))})")
            place.shape = f"<{shape.tag}> {index}"
            if shape.get("keyframe", "1") != "1":
                continue
            frame = _integer(place, shape, "frame")
            if frame < 0 or (item.frame_count is not None and frame >= item.frame_count):
                raise place.error(f"frame {frame} is not in the video (0 to "
                                  f"{(item.frame_count or 0) - 1})")
            geometry = _shape_geometry(place, shape, (item.width, item.height),
                                       label_class.keypoint_names if label_class else ())
            found.append(Annotation(
                label=label, geometry=geometry, frame=frame, outside=shape.get("outside") == "1",
                attributes=_attributes(shape, self.meta.definitions.get(label, {})),
                z_order=_integer(place, shape, "z_order", default="0"), source=source))
        if label not in self.seen:
            self.seen.append(label)
        return group, found

    def record(self) -> ItemRecord:
        item: Item | None = None
        split: str | None = None
        tracks: list[tuple[int, list[Annotation]]] = []
        for root, element in ended_elements(
                self.path, other_tag="image",
                other_layout="'CVAT for images'; read it with the cvat format"):
            if element.tag == "meta":
                self.meta = _parse_meta(self.path, element)
                item, split = self._item(element)
            elif element.tag == "track":
                if item is None:
                    raise InputError(f"{self.path}: <track> before <meta>")
                tracks.append(self._track(element, len(tracks) + 1, item))
                root.clear()
        if item is None:
            raise InputError(f"{self.path}: no <meta>")
        return ItemRecord(item=item, annotations=_with_instance_ids(tracks),
                          split=(split or "").strip() or None)


def _with_instance_ids(tracks: list[tuple[int, list[Annotation]]]) -> tuple[Annotation, ...]:
    """Each track's keyframes with its instance id: its ``group_id``, or for tracks without
    one (CVAT's own exports) the next id no other track of the file uses."""
    used = {group for group, _ in tracks if group > 0}
    free = 1
    annotations: list[Annotation] = []
    for group, keyframes in tracks:
        if group <= 0:
            while free in used:
                free += 1
            group = free
            used.add(group)
        annotations += (replace(key, instance_id=group) for key in keyframes)
    return tuple(annotations)


def _xml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if (path / ANNOTATIONS_FILE).is_file():
        return [path / ANNOTATIONS_FILE]
    found = sorted((path / VIDEOS_DIR).glob(f"*/{ANNOTATIONS_FILE}")) if path.is_dir() else []
    if not found:
        raise InputError(f"{path}: expected a CVAT XML file, a folder with {ANNOTATIONS_FILE}, "
                         f"or {VIDEOS_DIR}/<video>/{ANNOTATIONS_FILE} folders")
    return found


def read(path: Path, options: Mapping[str, Any]) -> ExportSource:
    """Read CVAT for video files; each is checked whole first, so a bad shape fails the
    import before anything is stored."""
    files = _xml_files(Path(path))
    videos = options.get("videos") or options.get("images")  # the CLI's --images folder
    seen: list[str] = []
    classes: list[LabelClass] = []
    for file in files:
        checker = _VideoFile(file, _video_dirs(file, videos))
        checker.record()
        classes += [c for c in checker.meta.classes if c.name not in {k.name for k in classes}]
        seen += [name for name in checker.seen if name not in seen]
    schema = LabelSchema(classes=tuple(classes)).with_classes(seen, GeometryKind.BOX)

    def records() -> Iterator[ItemRecord]:
        for file in files:
            yield _VideoFile(file, _video_dirs(file, videos)).record()

    name = files[0].parent.name if len(files) == 1 else Path(path).name
    return StreamSource(project=ProjectInfo(name=name), schema=schema, count=len(files),
                        open_records=records)


def _video_dirs(file: Path, videos: Any) -> list[Path]:
    return [Path(videos), file.parent] if videos else [file.parent]


SPEC = FormatSpec(
    name="cvat_video",
    title="CVAT for video 1.1 (XML)",
    extension="xml",
    geometries=frozenset({GeometryKind.BOX, GeometryKind.ROTATED_BOX, GeometryKind.POLYGON,
                          GeometryKind.POLYLINE, GeometryKind.KEYPOINTS}),
    conventions=Conventions(
        coordinates="absolute pixels with 2 decimals; boxes xtl ytl xbr ybr, rotation in "
                    "degrees clockwise about the centre",
        index_base="frames 0-based; track ids 0-based per video",
        ids="group_id = the track's instance id",
        notes="one annotations.xml per video under videos/<name>/; tracks as keyframes "
              "(keyframe, outside, occluded as CVAT), not expanded",
    ),
    attributes=True,
    splits=True,
    media=True,
    video=True,
    images=False,
    writer=write,
    reader=read,
    unshardable="video format: a video is one item, not worth sharding",
)
