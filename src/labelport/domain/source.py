"""`ExportSource`: what a writer reads and what a reader returns. The schema and project info
come up front; records stream, so a source never has to hold a whole project."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Protocol

from labelport.domain.model import Dataset, Item, ItemRecord, Labelset, ProjectInfo
from labelport.domain.schema import LabelSchema


class ExportSource(Protocol):
    @property
    def project(self) -> ProjectInfo: ...

    @property
    def schema(self) -> LabelSchema: ...

    @property
    def datasets(self) -> tuple[Dataset, ...]: ...

    @property
    def labelsets(self) -> tuple[Labelset, ...]: ...

    def __len__(self) -> int:
        """Number of records ``records()`` yields (for progress and split sizes)."""
        ...

    def records(self) -> Iterator[ItemRecord]:
        """The records in a stable order; may be called more than once."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class MemorySource:
    """A source held in memory: tests, small files, ``labelport convert``."""

    project: ProjectInfo
    schema: LabelSchema
    items: tuple[ItemRecord, ...] = ()
    datasets: tuple[Dataset, ...] = ()
    labelsets: tuple[Labelset, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    def records(self) -> Iterator[ItemRecord]:
        return iter(self.items)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamSource:
    """A source whose records come from a callable each time they are asked for (a file read
    line by line, a store query), so memory does not grow with the project."""

    project: ProjectInfo
    schema: LabelSchema
    count: int
    open_records: Callable[[], Iterable[ItemRecord]]
    datasets: tuple[Dataset, ...] = ()
    labelsets: tuple[Labelset, ...] = field(default=())
    open_from: Callable[[int, int | None], Iterable[ItemRecord]] | None = None
    """The records from a position on (up to a stop, None: to the end), for a source that can
    seek there without reading the records before it (a store query by keyset): a shard of a
    large export reads its own items only, and none past them. Without it, `records_from`
    reads and skips."""
    open_items: Callable[[], Iterable[Item]] | None = None
    """The items alone, in the records' order, for a source that can read them without their
    annotations (a store query): a pass over file names costs a fraction of one over records.
    Without it, `items` takes them from the records."""
    videos: bool | None = None
    """Whether any record is a video, when the source knows it without reading the records (a
    store's query, as of opening it); None when it does not. Over a source without videos the
    frames stage keeps its input's size, so the export's is known without a pass of its own."""

    def __len__(self) -> int:
        return self.count

    def records(self) -> Iterator[ItemRecord]:
        return iter(self.open_records())

    def records_from(self, start: int, stop: int | None = None) -> Iterator[ItemRecord]:
        """The records from position ``start`` (0-based) up to ``stop`` (None: every one
        after), in `records`' order."""
        if self.open_from is not None:
            return iter(self.open_from(start, stop))
        return islice(self.records(), start, stop)

    def items(self) -> Iterator[Item]:
        """Every record's item, in `records`' order."""
        if self.open_items is not None:
            return iter(self.open_items())
        return (record.item for record in self.records())
