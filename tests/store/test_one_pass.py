"""An export of a store's project reads its records once: the store says whether the project
holds a video (a query), so over a project without one the frames stage keeps its input's
size, and the progress total is bounded without a pass (`size_bound`) when a default selection
may leave items out. With a video, its size is counted; a video added after the source was
opened still becomes frames."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from labelport.domain.frames import FrameItem
from labelport.domain.model import ItemRecord, Task, TaskStatus
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource, MemorySource, StreamSource
from labelport.export.frames import FrameSelection, may_hold_videos
from labelport.export.pipeline import ExportRequest, prepare, run_pipeline
from labelport.export.stage import size_bound
from labelport.store import Store

BoxesFactory = Callable[..., MemorySource]


class Passes:
    """A store's source whose passes over the records are counted."""

    def __init__(self, inner: StreamSource) -> None:
        self.inner = inner
        self.count = 0

    def source(self) -> StreamSource:
        def records() -> Iterator[ItemRecord]:
            self.count += 1
            return self.inner.records()

        inner = self.inner
        return StreamSource(project=inner.project, schema=inner.schema, count=len(inner),
                            open_records=records, datasets=inner.datasets,
                            labelsets=inner.labelsets, videos=inner.videos)


def skipped_last(source: MemorySource) -> MemorySource:
    """``source`` with its last item's task skipped, which a default selection leaves out."""
    *kept, last = source.items
    task = Task(labelset="ground-truth", status=TaskStatus.SKIPPED)
    return MemorySource(project=source.project, schema=source.schema,
                        items=(*kept, ItemRecord(item=last.item, tasks=(task,),
                                                 annotations=last.annotations)),
                        datasets=source.datasets, labelsets=source.labelsets)


def test_a_default_export_of_a_project_without_video_reads_it_once(
        store: Store, make_boxes: BoxesFactory, tmp_path: Path) -> None:
    store.create_project("p", LabelSchema())
    store.import_source("p", skipped_last(make_boxes(5)))
    store_source = store.source("p")
    assert isinstance(store_source, StreamSource) and store_source.videos is False
    passes = Passes(store_source)
    source = passes.source()
    request = ExportRequest(format="coco")
    assert request.selection is not None and request.selection.drops_items

    prepared = prepare(source, request)
    assert size_bound(prepared.source) == 5 and passes.count == 0  # a bound, no pass
    result = run_pipeline(source, request, tmp_path / "out", prepared=prepared)
    assert passes.count == 1
    assert result.counts.items == 4
    assert len(prepared.source) == 4  # exact when asked for, at the cost of a pass
    assert passes.count == 2


def test_the_store_and_its_releases_say_whether_they_hold_a_video(
        store: Store, make_boxes: BoxesFactory, every_value: MemorySource) -> None:
    assert any(r.item.is_video for r in every_value.items)
    store.create_project("images", LabelSchema())
    store.import_source("images", make_boxes(3))
    store.create_project("mixed", every_value.schema)
    store.import_source("mixed", every_value)
    for project, videos in (("images", False), ("mixed", True)):
        source = store.source(project)
        assert isinstance(source, StreamSource) and source.videos is videos
        assert may_hold_videos(source) is videos
        store.create_release(project, "v1", source)
        release = store.release_source(project, "v1")
        assert isinstance(release, StreamSource) and release.videos is videos


def test_sources_that_cannot_tell_keep_the_frames_stage(make_boxes: BoxesFactory,
                                                        every_value: MemorySource) -> None:
    memory = make_boxes(3)
    unknown: ExportSource = StreamSource(project=memory.project, schema=memory.schema,
                                         count=3, open_records=memory.records)
    assert may_hold_videos(unknown)
    assert not may_hold_videos(memory)
    assert may_hold_videos(every_value)


def test_a_video_project_still_counts_its_frames(every_value: MemorySource) -> None:
    prepared = prepare(every_value, ExportRequest(format="coco", selection=None,
                                                  frames=FrameSelection.ALL, frame_step=100))
    records = list(prepared.source.records())
    assert sum(isinstance(r.item, FrameItem) for r in records) == 3  # frames 0, 100, 200
    assert size_bound(prepared.source) == len(prepared.source) == len(records) == 5


def test_a_video_added_after_the_source_was_opened_still_becomes_frames(
        store: Store, every_value: MemorySource) -> None:
    """The store says "no video" when the source is opened; a job's records are read later
    (keyset pages see items added since), so a video imported meanwhile must not reach an
    image format's writer as an image."""
    images = replace(every_value, items=tuple(r for r in every_value.items
                                              if not r.item.is_video))
    videos = replace(every_value, items=tuple(r for r in every_value.items if r.item.is_video))
    store.create_project("p", every_value.schema)
    store.import_source("p", images)
    source = store.source("p")
    assert source.videos is False
    store.import_source("p", videos)
    prepared = prepare(source, ExportRequest(format="coco", selection=None,
                                             frames=FrameSelection.ALL, frame_step=100))
    records = list(prepared.source.records())
    assert not any(r.item.is_video for r in records)
    assert sum(isinstance(r.item, FrameItem) for r in records) == 3  # frames 0, 100, 200
