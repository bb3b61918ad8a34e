"""Verify, on an export's page: a sample of the finished artifact read back through labelport's
own reader for its format, drawn beside the same items as the store holds them (SATIn's "sample
verification", done by the machine). Objects are compared one by one by `compare_item`, the
comparison of the export's own ``--verify``: a difference the export's report does not account
for (a moved box, a missing object) is flagged; what the format cannot carry, as the report
counts it (a rotated box written as its envelope), is shown as expected.

The artifact is the service's own (written by `run_export`, its entry names checked when it
was packaged), opened with the password its job keeps. Items read back are matched with stored
ones by file name; the stored side shows the objects the export selected (its labelset and
source)."""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import IO, Any

import orjson
import pyzipper

from labelport.domain.model import DEFAULT_LABELSET, Annotation, ItemRecord, Source
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource
from labelport.errors import InputError, LabelportError, UnsupportedError
from labelport.export.manifest import MANIFEST_NAME, archive_manifest
from labelport.export.mapping import ClassMapping
from labelport.export.verify import (
    accounted,
    compare_item,
    describe,
    explained_labels,
    explaining,
    linked_images,
    missing_reason,
)
from labelport.formats.base import OutsidePolicy
from labelport.formats.registry import get_format
from labelport.jobs import service
from labelport.jobs.artifacts import ArtifactStorage
from labelport.jobs.config import JobSettings
from labelport.store import Store
from labelport.store.browse import ItemFilter, item_page
from labelport.store.jobs import JobInfo
from labelport.web.drawing import Shape, shapes

SAMPLE = 6
MAX_VERIFY_BYTES = 2 << 30
"""Verify unpacks the artifact on the server (readers need its files, some its images): not
one larger than this."""
MAX_MANIFEST_ARCHIVE = 256 << 20
"""An archive larger than this is not read into memory for its manifest (the page then shows
what the job recorded)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedItem:
    name: str
    stored: ItemRecord | None
    stored_shapes: list[Shape]
    read_shapes: list[Shape]
    read_width: int
    read_height: int
    differences: list[str]
    """Flagged: what the export's report does not account for."""
    expected: list[str]
    """Conversions the report names (what the format cannot carry)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Verified:
    format: str
    items_read: int
    sample: list[VerifiedItem]

    @property
    def differs(self) -> bool:
        return any(v.differences for v in self.sample)


def verify_sample(store: Store, settings: JobSettings, job: JobInfo, project: str, *,
                  password: str | None = None, sample: int = SAMPLE) -> Verified:
    """Read the first ``sample`` items of the export back; ``password`` opens an AES zip
    (labelport forgets an export's password once it is done)."""
    spec = get_format(str(job.request.get("format")))
    if spec.reader is None:
        raise UnsupportedError(f"format {spec.name!r} has no reader in labelport: its exports "
                               "cannot be read back")
    uri = service.downloadable(job)
    request = job.request
    mapping = ClassMapping(renames=tuple((request.get("map") or {}).items()),
                           drops=tuple(request.get("drop_class") or ()))
    targets = mapping.targets(store.project_schema(project))
    schema = mapping.mapped_schema(store.project_schema(project))
    selection = request.get("selection") or {}
    labelset = selection.get("labelset") or DEFAULT_LABELSET
    sources = {"human": (Source.HUMAN,), "model": (Source.MODEL,)}.get(
        selection.get("source", "human"), (Source.HUMAN, Source.MODEL))
    with tempfile.TemporaryDirectory(prefix="labelport-verify-") as folder:
        archive = Path(folder) / (job.artifact_name or "artifact")
        ArtifactStorage(settings.artifacts).download(uri, archive)
        root = _unpack(archive, Path(folder) / "x", password)
        reader_options: dict[str, Any] = {}
        if request.get("media", "none") == "none":  # a reader finds sizes in the images
            reader_options["images"] = str(Path(folder) / "images")
            linked_images(store.source(project), Path(folder) / "images",
                          settings.media_access(job.project_id))
        try:
            read, items_read = _first(spec.reader(root, reader_options), sample)
        except LabelportError as exc:  # named inside the artifact, not the server's folder
            raise InputError(f"labelport's {spec.name} reader cannot read this export back: "
                             + str(exc).replace(f"{folder}/x/", "")) from None
    counts: dict[str, int] = (job.counts or {}).get("report") or {}
    clip = request.get("outside", OutsidePolicy.CLIP.value) == OutsidePolicy.CLIP.value
    checked = []
    for record in read:
        stored = _stored(store, job.project_id, record.item.path)
        want = [] if stored is None else [  # as the export selected and mapped them
            replace(a, label=label) for a in stored.annotations
            if a.labelset == labelset and a.source in sources
            and (label := targets.get(a.label, a.label)) is not None]
        found = _Found(flagged=[f"no stored item is named {record.item.path!r}"])
        if stored is not None:
            found = _compared(ItemRecord(item=stored.item, annotations=tuple(want)),
                              record, spec.name, schema, counts, clip=clip)
        checked.append(VerifiedItem(
            name=record.item.path, stored=stored,
            stored_shapes=_drawn(want, found.not_read, schema),
            read_shapes=_drawn(record.annotations, found.not_stored, schema),
            read_width=record.item.width, read_height=record.item.height,
            differences=found.flagged, expected=found.expected))
    return Verified(format=spec.name, items_read=items_read, sample=checked)


def _first(source: ExportSource, n: int) -> tuple[list[ItemRecord], int]:
    """The first ``n`` records of ``source`` and how many it holds."""
    read: list[ItemRecord] = []
    for record in source.records():
        read.append(record)
        if len(read) >= n:
            break
    return read, len(source)


def read_manifest(settings: JobSettings, job: JobInfo,
                  password: str | None = None) -> dict[str, Any] | None:
    """The manifest inside a completed export's archive (read in place when the archive is on
    this machine); None when it cannot be read: an encrypted zip without its password, an
    expired artifact, a remote archive over `MAX_MANIFEST_ARCHIVE`."""
    if not job.downloadable or job.artifact_uri is None:
        return None
    storage = ArtifactStorage(settings.artifacts)
    local = storage.local_path(job.artifact_uri)
    try:
        if local is not None:
            with local.open("rb") as stream:
                return _manifest_of(stream, job, password)
        if (job.artifact_size or 0) > MAX_MANIFEST_ARCHIVE:
            return None
        with storage.open(job.artifact_uri) as remote:
            return _manifest_of(io.BytesIO(remote.read()), job, password)
    except (KeyError, RuntimeError, OSError, tarfile.TarError, zipfile.BadZipFile,
            orjson.JSONDecodeError):
        return None


def _manifest_of(stream: IO[bytes], job: JobInfo, password: str | None) -> dict[str, Any] | None:
    name = job.artifact_name or ""
    if not name.endswith(".tar.gz") and is_encrypted(stream) and not password:
        return None
    stream.seek(0)
    manifest = orjson.loads(archive_manifest(stream, name, password=password))
    return manifest if isinstance(manifest, dict) else None


def check_password(archive: IO[bytes], password: str | None, *, to: str) -> bool:
    """Whether the zip ``archive`` is password-protected; when it is, an `InputError` unless
    ``password`` opens it (labelport forgets an export's password once it is done, so Verify
    and Re-run ask for it; ``to`` says what for)."""
    if not is_encrypted(archive):
        return False
    if not password:
        raise InputError("this export is a password-protected zip and labelport does not "
                         f"keep passwords: type its password {to}")
    archive.seek(0)
    with pyzipper.AESZipFile(archive) as zipped:
        zipped.setpassword(password.encode())
        entries = [i for i in zipped.infolist() if i.flag_bits & 0x1 and not i.is_dir()]
        try:
            zipped.read(min(entries, key=lambda i: i.file_size))
        except RuntimeError:
            raise InputError("wrong password for this export's zip") from None
    return True


def is_encrypted(archive: IO[bytes]) -> bool:
    """Whether the zip ``archive`` is password-protected (a tar.gz never is)."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            return any(info.flag_bits & 0x1 for info in zipped.infolist())
    except zipfile.BadZipFile:
        return False


def _unpack(archive: Path, folder: Path, password: str | None) -> Path:
    """Extract the artifact; the folder holding its manifest (the export's root)."""
    folder.mkdir()
    if archive.name.endswith(".tar.gz"):
        with tarfile.open(archive, "r:gz") as tar:
            _refuse_large(sum(m.size for m in tar.getmembers()))
            tar.extractall(folder, filter="data")
    else:
        with archive.open("rb") as stream:
            check_password(stream, password, to="to verify it")
        with pyzipper.AESZipFile(archive) as zipped:
            _refuse_large(sum(info.file_size for info in zipped.infolist()))
            if password:
                zipped.setpassword(password.encode())
            try:
                zipped.extractall(folder)
            except RuntimeError:
                raise InputError("wrong password for this export's zip") from None
    manifests = sorted(folder.rglob(MANIFEST_NAME), key=lambda p: len(p.parts))
    return manifests[0].parent if manifests else folder


def _refuse_large(unpacked_bytes: int) -> None:
    if unpacked_bytes > MAX_VERIFY_BYTES:
        raise InputError(f"this export unpacks to {unpacked_bytes / (1 << 30):.1f} GiB, over "
                         f"the {MAX_VERIFY_BYTES >> 30} GiB Verify unpacks on the server")


def _stored(store: Store, project_id: int, path: str) -> ItemRecord | None:
    """The stored item with the file name ``path`` ends with (the first, by id)."""
    name = PurePosixPath(path).name
    page = item_page(store.engine, project_id, ItemFilter(name=name), limit=50)
    for record in page.records:
        if PurePosixPath(record.item.path).name == name:
            return record
    return None


@dataclass(slots=True, kw_only=True)
class _Found:
    """One item's differences in words (flagged, expected) and the flagged objects."""

    flagged: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    not_read: list[Annotation] = field(default_factory=list)
    not_stored: list[Annotation] = field(default_factory=list)


def _drawn(annotations: Iterable[Annotation], flagged: list[Annotation],
           schema: LabelSchema) -> list[Shape]:
    """The objects' shapes, those of the ``flagged`` ones marked so the page shows them."""
    marked = {id(a) for a in flagged}
    kept = [a for a in annotations if id(a) not in marked]
    return shapes(kept, schema, mask_side=320) + [
        replace(s, classes=(*s.classes, "flagged"))
        for s in shapes(flagged, schema, mask_side=320)]


def _compared(want: ItemRecord, have: ItemRecord, format_name: str, schema: LabelSchema,
              counts: Mapping[str, int], *, clip: bool) -> _Found:
    """The differences between a stored item (its selected objects) and the same item read
    back: those the report does not account for (flagged), and the conversions it names."""
    found = _Found()
    flagged, expected = found.flagged, found.expected
    if (want.item.width, want.item.height) != (have.item.width, have.item.height):
        flagged.append(f"size: {want.item.width}x{want.item.height} stored, "
                       f"{have.item.width}x{have.item.height} read back")
    compared = compare_item(want, have, format_name, clip=clip)
    if compared.differs is not None:  # a video's track found on some frames only
        flagged.append(compared.differs)
    for written, read in compared.matched:
        if written.geometry.kind != read.geometry.kind:
            expected.append(f"{describe(written)} reads back as {read.geometry.kind.value}"
                            f"{_because(written.geometry.kind.value, counts)}")
    converted = []
    for lost in compared.lost:
        reason = missing_reason(lost, counts)
        if accounted(reason, counts):
            converted.append(lost)
            expected.append(f"{describe(lost)} is not in the artifact"
                            f"{_because(reason, counts, loose=True)}")
        else:
            found.not_read.append(lost)
            flagged.append(f"{describe(lost)} stored is not read back")
    explained = explained_labels(schema, want, converted)  # not a lost object's flagged stand-in
    for extra in compared.extra:
        if extra.label in explained:
            expected.append(f"{describe(extra)} read back in place of what was not")
        else:
            found.not_stored.append(extra)
            flagged.append(f"{describe(extra)} read back is not stored")
    return found


def _because(reason: str, counts: Mapping[str, int], *, loose: bool = False) -> str:
    """The report's words for what the export did to objects of ``reason``, as a clause: its
    counts about that kind (``converted: rotated_box to ...``); ``loose``, else any count
    naming it (those the export's own check accepts)."""
    named = [k for k in explaining(counts) if accounted(reason, {k: 1})]
    about = [k for k in named if k.split(": ", 1)[-1].startswith(reason)]
    shown = about or (named if loose else [])
    return f" ({'; '.join(shown)})" if shown else ""
