"""The frames stage: a video becomes the frames an image format writes.

For a format that does not write videos as videos (`FormatSpec.video` false), each video record is
replaced by one record per chosen frame, in frame order, right after the split (so all frames of a
video land in the video's split: they are near-duplicates, and splitting them leaks). A frame
record's item is a `FrameItem`: the video's dataset, size and media, the path ``<video path without
suffix>/<frame:06d>.jpg`` (a folder per video, which image writers keep as they keep any item's
folders: ``images/{split}/{video}/{frame:06d}.jpg``; formats that name images by file name alone
list their renamings in the manifest), and the metadata ``video`` (the video's path), ``video_id``
(the video's store id, when it has one) and ``frame_index`` (0-based). Its annotations are the
video's tracks on that frame (`labelport.domain.tracks`: keyframes as they are, frames between
interpolated), each with its track id as ``instance_id`` and as the attribute ``track_id`` (kept by
every format that writes attributes), plus the shapes annotated on that frame alone; annotations of
the video without a frame apply to every frame.

Which frames (``frames``):
- ``labeled`` (default): every frame on which an object is visible;
- ``keyframes``: every frame that holds a keyframe or a single-frame shape;
- ``all``: every frame of the video;
then ``frame_step`` N keeps the frames whose index is a multiple of N.

The media stage extracts a frame when a writer places a `FrameItem` (`FrameExtractor`; in an
export, on several threads: `labelport.export.frame_pool`); images in the same project pass
through unchanged. Over a source that said it held no video when opened (`may_hold_videos`) the
stage keeps its input's size, known without a pass; it still runs, since a store's records are
read later and a video imported meanwhile must become frames too."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from labelport.domain.frames import FrameItem, frame_item_path
from labelport.domain.model import Annotation, ItemRecord
from labelport.domain.source import ExportSource, MemorySource, StreamSource
from labelport.domain.tracks import TrackShape, expand_track, split_tracks, visible_frames
from labelport.errors import InputError
from labelport.export.stage import PassCounter, StageReport, StageSource
from labelport.formats.base import Report


class FrameSelection(enum.StrEnum):
    LABELED = "labeled"
    KEYFRAMES = "keyframes"
    ALL = "all"


def chosen_frames(record: ItemRecord, selection: FrameSelection, step: int) -> list[int]:
    """The frames of a video record to export, in order."""
    count = record.item.frame_count
    tracks, others = split_tracks(record.annotations)
    if selection is FrameSelection.ALL:
        frames: set[int] = set(range(count or 0))
    elif selection is FrameSelection.KEYFRAMES:
        frames = {a.frame for a in record.annotations if a.frame is not None}
    else:
        frames = {f for keys in tracks.values() for f in visible_frames(keys, frame_count=count)}
        frames |= {a.frame for a in others if a.frame is not None}
    if count is not None:
        frames = {f for f in frames if 0 <= f < count}
    return sorted(f for f in frames if f % step == 0)


def frame_records(record: ItemRecord, selection: FrameSelection, step: int,
                  counter: PassCounter | None = None) -> Iterator[ItemRecord]:
    """The records of a video's chosen frames; tracks are expanded once per video, frames
    yielded in order (the extractor then decodes forward)."""
    video = record.item
    wanted = chosen_frames(record, selection, step)
    tracks, others = split_tracks(record.annotations)
    per_frame: dict[int, list[Annotation]] = {f: [] for f in wanted}
    for keyframes in tracks.values():
        for shape in expand_track(keyframes, frame_count=video.frame_count):
            if shape.frame in per_frame:
                per_frame[shape.frame].append(_on_frame(shape))
    for annotation in others:
        if annotation.frame is None:
            for frame in wanted:
                per_frame[frame].append(replace(annotation, frame=frame))
        elif annotation.frame in per_frame:
            per_frame[annotation.frame].append(annotation)
    rotation = video.video.rotation_deg if video.video is not None else 0
    metadata = dict(video.metadata)
    for frame in wanted:
        item = FrameItem(
            dataset=video.dataset, path=frame_item_path(video.path, frame), width=video.width,
            height=video.height, media_uri=video.media_uri, channels=video.channels,
            bit_depth=video.bit_depth,
            metadata={**metadata, "video": video.path, "frame_index": frame,
                      **({"video_id": video.id} if video.id is not None else {})},
            video_path=video.path, frame_index=frame, rotation_deg=rotation)
        if counter is not None:
            counter.count("converted: video frame exported as an image")
        yield replace(record, item=item, annotations=tuple(per_frame[frame]))


def _on_frame(shape: TrackShape) -> Annotation:
    """The track's object on its frame, its track id also as the ``track_id`` attribute (what
    image formats with attributes write)."""
    annotation = shape.annotation
    return replace(annotation, frame=shape.frame,
                   attributes={**annotation.attributes, "track_id": annotation.instance_id})


def may_hold_videos(source: ExportSource) -> bool:
    """False when ``source`` surely holds no video: it says so (a store's query,
    `StreamSource.videos`) or holds its records in memory."""
    if isinstance(source, MemorySource):
        return any(record.item.is_video for record in source.items)
    return not (isinstance(source, StreamSource) and source.videos is False)


def video_frames(source: ExportSource, report: Report, *,
                 selection: FrameSelection = FrameSelection.LABELED,
                 step: int = 1, no_videos: bool = False) -> ExportSource:
    """``source`` with every video replaced by its chosen frames (see the module docstring).
    ``no_videos``: the source said it holds none, so the size is its input's (`size_bound`
    too), without a pass."""
    if step < 1:
        raise InputError(f"frame step must be 1 or more, got {step}")

    def stage(counter: PassCounter) -> Iterator[ItemRecord]:
        for record in source.records():
            if record.item.is_video:
                yield from frame_records(record, selection, step, counter)
            else:
                yield record

    return StageSource(project=source.project, schema=source.schema, datasets=source.datasets,
                       labelsets=source.labelsets, stage=stage, report=StageReport(report),
                       count=source.__len__ if no_videos else None,
                       within=source if no_videos else None)


class FrameExtractor:
    """The media stage's part for frames: keeps the video being read open and decodes forward
    through it as its frames are placed in order; opens the next video when asked for one."""

    def __init__(self) -> None:
        from labelport.video.frames import VideoFrames

        self._open = VideoFrames
        self._current: VideoFrames | None = None
        self._uri: str | None = None

    def place(self, item: FrameItem, source: Path, target: Path) -> None:
        """Write frame ``item.frame_index`` of the video at ``source`` to ``target``."""
        from labelport.video.frames import save_frame

        if self._current is None or self._uri != str(source):
            self.close()
            self._current = self._open(source, rotation_deg=item.rotation_deg)
            self._uri = str(source)
        save_frame(self._current, item.frame_index, target)

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
