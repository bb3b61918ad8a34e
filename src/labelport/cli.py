"""The `labelport` command line: parses, calls the library, shows progress. A user error
prints one line and exits with status 2, never a traceback."""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labelport import __version__
from labelport.archives import TAR_SUFFIXES, ArchiveLimits, is_archive, unpack_archive
from labelport.cli_selection import with_selection
from labelport.cli_service import register as register_service
from labelport.cli_store import DEFAULT_DB, open_store
from labelport.domain.model import DEFAULT_DATASET, DEFAULT_LABELSET, ItemRecord
from labelport.domain.schema import LabelSchema
from labelport.domain.source import ExportSource, MemorySource
from labelport.errors import InputError, LabelportError
from labelport.export.checks import Check, CheckPolicies, run_checks
from labelport.export.export_type import ExportType
from labelport.export.frames import FrameSelection, video_frames
from labelport.export.mapping import ClassMapping
from labelport.export.media import MediaMode, PathMode
from labelport.export.media_access import MediaAccess
from labelport.export.package import PackageKind, artifact_path
from labelport.export.pipeline import prepare, run_pipeline
from labelport.export.request import ExportOptions, parse_options, plan_export
from labelport.export.run import ExportResult, run_export
from labelport.export.selection import Selection, select
from labelport.export.splits import SplitSpec
from labelport.export.stage import size_bound
from labelport.formats._shared.class_list import load_schema
from labelport.formats.base import FormatSpec, OutsidePolicy, Report
from labelport.formats.registry import all_formats, get_format

app = typer.Typer(
    help="labelport: labeled computer-vision data out of an annotation store, in every format.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
project_app = typer.Typer(help="Create, list and inspect projects.", no_args_is_help=True)
app.add_typer(project_app, name="project")
release_app = typer.Typer(help="Immutable, versioned snapshots of a project.",
                          no_args_is_help=True)
app.add_typer(release_app, name="release")
register_service(app)

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="LABELPORT_DB",
                 help=f"Store: a SQLite file path or a postgresql+psycopg:// URL "
                      f"(default {DEFAULT_DB})."),
]
OptionsOption = Annotated[
    list[str] | None,
    typer.Option("--option", "-o", help="A format option as NAME=VALUE (repeatable); "
                                         "`labelport formats` lists them."),
]


@contextmanager
def progress_bar(title: str, total: int) -> Iterator[Any]:
    """A Rich progress bar; yields the callback writers and importers report through."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True,
                  disable=not err_console.is_terminal) as bar:
        task = bar.add_task(title, total=total)
        yield lambda done: bar.update(task, completed=done)


@app.command()
def init(db: DbOption = None) -> None:
    """Create the store (or bring an existing one up to date)."""
    store = open_store(db, create=True)
    shown = store.engine.url.render_as_string(hide_password=True)
    console.print(f"store ready: {shown}")


@project_app.command("create")
def project_create(
    name: str,
    schema: Annotated[Path | None, typer.Option(help="Label schema as JSON "
                                                     "({\"classes\": [...], ...}).")] = None,
    description: str = "",
    db: DbOption = None,
) -> None:
    """Create a project, optionally with its label schema."""
    label_schema = load_schema(schema) if schema else LabelSchema()
    open_store(db).create_project(name, label_schema, description=description)
    console.print(f"project {name!r} created with {len(label_schema.classes)} classes")


@project_app.command("list")
def project_list(db: DbOption = None) -> None:
    """List the projects of the store."""
    table = Table("project", "items", "description")
    for summary in open_store(db).list_projects():
        table.add_row(summary.name, str(summary.items), summary.description)
    console.print(table)


@project_app.command("quality")
def project_quality(
    name: str,
    output: Annotated[str, typer.Option(
        "--format", help="table (default), csv or json.")] = "table",
    db: DbOption = None,
) -> None:
    """Per annotator: objects made, mean lead time, and the shares of their tasks reviewed
    and rejected (SATIn's quality metrics)."""
    import json as json_module

    from labelport.store.quality import annotator_quality, to_csv, to_json

    if output not in ("table", "csv", "json"):
        raise InputError(f"--format {output!r}: expected table, csv or json")
    store = open_store(db)
    rows = annotator_quality(store.engine, name)
    if output == "csv":
        sys.stdout.write(to_csv(rows))
    elif output == "json":
        print(json_module.dumps(to_json(rows), indent=2))
    else:
        table = Table("annotator", "objects", "mean lead time (s)", "tasks", "reviewed",
                      "rejected")
        for row in rows:
            table.add_row(row.annotator, str(row.objects),
                          "" if row.mean_lead_time_s is None else f"{row.mean_lead_time_s:.1f}",
                          str(row.tasks), _share(row.reviewed_share), _share(row.rejected_share))
        console.print(table)


def _share(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.0f} %"


@project_app.command("show")
def project_show(name: str, db: DbOption = None) -> None:
    """Counts of a project per dataset, per class and per task status."""
    stats = open_store(db).project_stats(name)
    for title, rows in (("dataset", stats.items_per_dataset),
                        ("class", stats.annotations_per_class),
                        ("task status", stats.tasks_per_status)):
        table = Table(title, "count", title_justify="left")
        for key, count in rows.items():
            table.add_row(key, str(count))
        console.print(table)


@project_app.command("add-media")
def project_add_media(
    project: str,
    sources: Annotated[list[str], typer.Argument(
        help="Image or video files, or URLs (http(s), s3://, gs://... through fsspec).")],
    dataset: Annotated[str, typer.Option(help="The dataset to add them to.")] =
    DEFAULT_DATASET,
    db: DbOption = None,
) -> None:
    """Add images and videos as items (videos probed with PyAV: size, frames, rate, rotation),
    all or nothing."""
    from labelport.media_items import media_item

    items = [ItemRecord(item=media_item(s, dataset=dataset)) for s in sources]
    store = open_store(db)
    store.import_source(project, MemorySource(project=store.project(project),
                                              schema=LabelSchema(), items=tuple(items)))
    videos = sum(r.item.is_video for r in items)
    console.print(f"added {len(items) - videos} images and {videos} videos to {project}")


@app.command("import")
def import_(
    project: str,
    format: str,
    path: Annotated[Path, typer.Argument(
        help="The file or folder to import, or a .zip, .tar.gz (.tgz) or .tar of a folder.")],
    dataset: Annotated[str | None, typer.Option(help="Put every item into this dataset.")] = None,
    images: Annotated[Path | None, typer.Option(help="Folder holding the media.")] = None,
    option: OptionsOption = None,
    unpack_to: Annotated[Path | None, typer.Option(
        help="Where an archive is unpacked (kept: the images it holds stay where the imported "
             "items point); default: a new folder beside it, named after it.")] = None,
    db: DbOption = None,
) -> None:
    """Import labels into a project; all or nothing."""
    spec = get_format(format)
    if spec.reader is None:
        raise InputError(f"format {format!r} can be written but not read")
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    store = open_store(db)
    store.project(project)  # fail on an unknown project before reading anything
    if is_archive(path):
        path = unpacked_archive(path, unpack_to)
    reader_options = parse_options(spec, option) | {"images": _images_folder(images)}
    source = spec.reader(path, reader_options)
    with progress_bar(f"importing {path.name}", len(source)) as progress:
        summary = store.import_source(project, source, dataset=dataset, progress=progress)
    console.print(f"imported {summary.items} items and {summary.annotations} annotations "
                  f"into {project!r}")


def unpacked_archive(archive: Path, folder: Path | None) -> Path:
    """Unpack ``archive`` into ``folder`` (default: beside it, named after it) with the
    service's rules (`labelport.archives`), as the service's import does; a folder that exists
    and is not empty is refused, and a failed unpacking leaves nothing. The folder to read."""
    if folder is None:
        stem = archive.name
        for suffix in (".zip", *TAR_SUFFIXES):
            if stem.lower().endswith(suffix):
                stem = stem[:-len(suffix)]
                break
        folder = archive.parent / stem
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(f"{folder}: exists and is not an empty folder; unpack {archive.name} "
                         "elsewhere with --unpack-to")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        unpack_archive(archive, folder, ArchiveLimits.from_env())
    except LabelportError:
        shutil.rmtree(folder)
        raise
    console.print(f"unpacked {archive.name} into {folder}")
    return folder


_PIPELINE = "Export pipeline"
MinBoxOption = Annotated[float | None, typer.Option(
    "--min-box-px", help="The smallest box side, in pixels, that the degenerate check accepts "
                         "(default 1e-06).", rich_help_panel=_PIPELINE)]


@app.command()
@with_selection
def export(
    project: str,
    format: str,
    export_path: Annotated[Path, typer.Option(
        "--export-path", help="The folder, or with --package zip|tar.gz the archive file, to "
                              "write (a folder when --name is given and it exists).")],
    selection: Selection | None,
    option: OptionsOption = None,
    map: Annotated[list[str] | None, typer.Option(
        "--map", help="Rename a class OLD=NEW (repeatable; several olds to one new merge).",
        rich_help_panel=_PIPELINE)] = None,
    drop_class: Annotated[list[str] | None, typer.Option(
        help="Leave out a class and its objects (repeatable).", rich_help_panel=_PIPELINE)] = None,
    class_ids: Annotated[Path | None, typer.Option(
        help="File of NAME=ID lines: explicit target class ids.",
        rich_help_panel=_PIPELINE)] = None,
    check: Annotated[list[str] | None, typer.Option(
        "--check", help="Check policy NAME=fail|warn|fix|skip (repeatable); `labelport check "
                        "--help` lists the checks.", rich_help_panel=_PIPELINE)] = None,
    min_box_px: MinBoxOption = None,
    split: Annotated[str | None, typer.Option(
        help="Named subsets: train=0.7,val=0.2,test=0.1.", rich_help_panel=_PIPELINE)] = None,
    split_strategy: Annotated[str, typer.Option(
        help="random, stratified, field or predefined.", rich_help_panel=_PIPELINE)] = "random",
    split_seed: Annotated[int, typer.Option(rich_help_panel=_PIPELINE)] = 0,
    split_field: Annotated[str | None, typer.Option(
        help="Metadata key naming each item's split (strategy field).",
        rich_help_panel=_PIPELINE)] = None,
    group_by: Annotated[str | None, typer.Option(
        help="Metadata key: items sharing it land in the same split; `dataset` keeps each "
             "dataset in one split.", rich_help_panel=_PIPELINE)] = None,
    media: Annotated[MediaMode, typer.Option(
        help="Put the images in the export.", rich_help_panel=_PIPELINE)] = MediaMode.NONE,
    paths: Annotated[PathMode, typer.Option(
        help="Image paths written in annotation files.", rich_help_panel=_PIPELINE)] =
    PathMode.RELATIVE,
    outside: Annotated[OutsidePolicy, typer.Option(
        help="Geometry outside its image.", rich_help_panel=_PIPELINE)] = OutsidePolicy.CLIP,
    package: Annotated[PackageKind, typer.Option(rich_help_panel=_PIPELINE)] = PackageKind.DIR,
    password: Annotated[str | None, typer.Option(
        help="AES-256 zip password (with --package zip).", rich_help_panel=_PIPELINE)] = None,
    name: Annotated[str | None, typer.Option(
        help="Name of the export (sanitised).", rich_help_panel=_PIPELINE)] = None,
    release: Annotated[str | None, typer.Option(
        help="Export this release instead of the live project.",
        rich_help_panel=_PIPELINE)] = None,
    since_release: Annotated[str | None, typer.Option(
        help="Only items added or changed since this release; removed ones are listed in "
             "the manifest.", rich_help_panel=_PIPELINE)] = None,
    export_type: Annotated[ExportType, typer.Option(
        help="annotations: the format's files; datasets: the images only, under "
             "datasets/{dataset}/; both: those images and the format's files per dataset "
             "under annotations/{dataset}/ (with --media none the images are copied).",
        rich_help_panel=_PIPELINE)] = ExportType.ANNOTATIONS,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Before publishing, read the export back with labelport's reader for "
                         "the format and compare it object by object with what was written; "
                         "a difference fails the export.", rich_help_panel=_PIPELINE)] = False,
    frames: Annotated[FrameSelection, typer.Option(
        help="Formats that write images: which frames of each video become images (labeled: "
             "every frame with a visible object).", rich_help_panel=_PIPELINE)] =
    FrameSelection.LABELED,
    frame_step: Annotated[int, typer.Option(
        min=1, help="Keep the video frames whose index is a multiple of N.",
        rich_help_panel=_PIPELINE)] = 1,
    split_by_frame: Annotated[bool, typer.Option(
        help="Split a video's frames independently (default: they share the video's split).",
        rich_help_panel=_PIPELINE)] = False,
    db: DbOption = None,
) -> None:
    """Export a project (or a release) in a format, with a manifest labelport-export.json."""
    planned = plan_export(open_store(db), project, ExportOptions(
        format=format, options=parse_options(get_format(format), option), selection=selection,
        mapping=ClassMapping.from_cli(maps=map or (), drops=drop_class or (),
                                      class_ids=class_ids),
        checks=tuple(check or ()), verify=verify, export_type=export_type,
        split=SplitSpec.parse(split, strategy=split_strategy, seed=split_seed,
                              split_field=split_field, group_by=group_by)
        if split or split_field or split_strategy != "random" else None,
        media=media, paths=paths, outside=outside, package=package, password=password,
        name=name, release=release, since_release=since_release, min_box_px=min_box_px,
        frames=frames, frame_step=frame_step, split_by_frame=split_by_frame),
        media_access=MediaAccess.local())  # the user's own machine: their own files
    source, request = planned.source, planned.request
    if name is not None and export_path.is_dir():
        export_path = artifact_path(export_path, name, package)
    prepared = prepare(source, request)
    with progress_bar(f"exporting {format}", size_bound(prepared.source)) as progress:
        result = run_pipeline(source, request, export_path,
                              extra_selection=planned.extra_selection,
                              prepared=prepared, progress=progress)
    console.print(f"exported {result.counts.items} items and {result.counts.annotations} "
                  f"objects to {result.path} in {result.seconds:.2f}s")
    if prepared.split is not None:
        sizes = ", ".join(f"{k}={v}" for k, v in prepared.split.items.items())
        console.print(f"splits ({prepared.split.strategy}): {sizes}; largest class-share "
                      f"deviation {prepared.split.max_deviation:.4f}")
    print_report(result)


@app.command("check")
@with_selection
def check_(
    project: str,
    selection: Selection | None,
    check: Annotated[list[str] | None, typer.Option(
        "--check", help="Policy NAME=fail|warn|fix|skip (repeatable). Checks: "
                        + ", ".join(c.value for c in Check) + ".")] = None,
    media: Annotated[MediaMode, typer.Option(
        help="Check media as an export with this media mode would.")] = MediaMode.NONE,
    min_box_px: MinBoxOption = None,
    db: DbOption = None,
) -> None:
    """Run the checks an export runs, without exporting; exit status 1 when one would fail."""
    chosen = selection or Selection()
    source = select(open_store(db).source(project, labelsets=[chosen.labelset]), chosen,
                    Report())
    policies = CheckPolicies.parse(check or (), media=media)
    if min_box_px is not None:
        policies = replace(policies, min_box_px=min_box_px)
    summary = run_checks(source, policies)
    console.print(f"checked {summary.items} items and {summary.annotations} annotations")
    for line in summary.lines() or ["no problems found"]:
        console.print(line, highlight=False)
    if summary.failed:
        raise typer.Exit(1)


@app.command()
def convert(
    from_format: str,
    input: Path,
    to_format: str,
    output: Path,
    images: Annotated[Path | None, typer.Option(help="Folder holding the media.")] = None,
    option: OptionsOption = None,
    read_option: Annotated[list[str] | None, typer.Option(
        "--read-option", "-r", help="An option of the input format as NAME=VALUE "
                                    "(repeatable), e.g. -r normalized=true.")] = None,
    media: Annotated[MediaMode, typer.Option(
        help="Put the images in the output.")] = MediaMode.NONE,
) -> None:
    """Convert a file from one format to another, without a store."""
    reader_spec, writer_spec = get_format(from_format), get_format(to_format)
    if reader_spec.reader is None:
        raise InputError(f"format {from_format!r} can be written but not read")
    if not input.exists():
        raise InputError(f"{input}: no such file or folder")
    source = reader_spec.reader(input, parse_options(reader_spec, read_option)
                                | {"images": _images_folder(images)})
    with progress_bar(f"converting to {to_format}", len(source)) as progress:
        result = run_export(source, writer_spec, output,
                            options=parse_options(writer_spec, option),
                            selection={"converted_from": from_format}, media=media,
                            progress=progress)
    console.print(f"wrote {result.counts.items} items and {result.counts.annotations} objects "
                  f"to {result.path}")
    print_report(result)


def print_report(result: ExportResult) -> None:
    """What the format converted, changed or could not carry, as the manifest records it."""
    if result.report.counts:
        table = Table("what the export filtered, changed or could not carry", "count",
                      title_justify="left")
        for kind, count in sorted(result.report.counts.items()):
            table.add_row(kind, str(count))
        console.print(table)
    for message in result.report.messages:
        err_console.print(f"[yellow]warning:[/] {message}", highlight=False)


@app.command()
def formats() -> None:
    """The registered formats and what each carries."""
    table = Table("name", "title", "read", "write", "geometries", "attributes", "scores",
                  "options")
    for spec in all_formats():
        table.add_row(
            spec.name, spec.title, _yes(spec.reader is not None), _yes(spec.writer is not None),
            ", ".join(sorted(spec.geometries)), _yes(spec.attributes), _yes(spec.scores),
            ", ".join(f"{o.name}={o.default}" for o in spec.options))
    console.print(table)


def _yes(flag: bool) -> str:
    return "yes" if flag else "-"


@release_app.command("create")
@with_selection
def release_create(
    project: str,
    name: str,
    selection: Selection | None,
    description: str = "",
    db: DbOption = None,
) -> None:
    """Freeze what the selection picks as an immutable, versioned release."""
    chosen = selection or Selection()
    store = open_store(db)
    source = select(store.source(project, labelsets=[chosen.labelset]), chosen, Report())
    info = store.create_release(project, name, source, description=description,
                                selection=chosen.to_json())
    console.print(f"release {info.name!r} (version {info.version}) of {project!r}: "
                  f"{info.items} items, {info.annotations} annotations")


@release_app.command("list")
def release_list(project: str, db: DbOption = None) -> None:
    """The releases of a project, oldest first."""
    table = Table("release", "version", "items", "annotations", "created", "description")
    for info in open_store(db).list_releases(project):
        table.add_row(info.name, str(info.version), str(info.items), str(info.annotations),
                      info.created_at.isoformat() if info.created_at else "", info.description)
    console.print(table)


@release_app.command("show")
def release_show(project: str, name: str, db: DbOption = None) -> None:
    """One release, with the selection that made it."""
    info = open_store(db).release(project, name)
    console.print_json(data=info.to_json())


@release_app.command("diff")
def release_diff(project: str, a: str, b: str, db: DbOption = None) -> None:
    """Items added, removed and changed from release A to release B."""
    diff = open_store(db).release_diff(project, a, b)
    console.print(f"{len(diff.added)} added, {len(diff.removed)} removed, "
                  f"{len(diff.changed)} changed, {diff.unchanged} unchanged")
    for title, keys in (("added", diff.added), ("removed", diff.removed),
                        ("changed", diff.changed)):
        for key in keys:
            console.print(f"{title}: {key}", highlight=False)


DEMO_VARIANTS: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("yolo", {"task": "classify", "classification": "weather"}, "yolo_classify"),
)
"""Exports the demo adds to each format's default one: (format, options, folder)."""


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo store, media and exports.")] =
    Path("demo-exports"),
) -> None:
    """Build the sample project (images and a short video with tracks) in a fresh SQLite store
    and export it to every format (the video's labelled frames to image formats)."""
    from labelport.sample import build_sample
    from labelport.store.users import Role

    out.mkdir(parents=True, exist_ok=True)
    db_path = out / "demo.db"
    db_path.unlink(missing_ok=True)
    store = open_store(str(db_path), create=True)
    sample = build_sample(out / "media", video=True)
    store.create_project("demo", LabelSchema(), description=sample.project.description)
    store.import_source("demo", sample)
    table = Table("format", "files", "objects", "converted or not carried", "seconds",
                  title="labelport demo")
    runs: list[tuple[FormatSpec, dict[str, Any], str]] = [
        (spec, {}, spec.name) for spec in all_formats() if spec.writer is not None]
    runs += [(get_format(name), options, folder) for name, options, folder in DEMO_VARIANTS]
    for spec, options, folder in runs:
        target = out / folder
        labelsets = None if spec.lossless else [DEFAULT_LABELSET]
        source: ExportSource = store.source("demo", labelsets=labelsets)
        report = Report()
        if not spec.video:  # the clip's labelled frames, as images
            source = video_frames(source, report)
        result = run_export(source, spec, target, options=options, report=report,
                            selection={"project": "demo", "labelsets": labelsets},
                            media=MediaMode.COPY)
        table.add_row(folder, str(result.files), str(result.counts.annotations),
                      str(sum(result.report.counts.values())), f"{result.seconds:.2f}")
    console.print(table)
    console.print(f"store: {db_path}   exports: {out}/<format>/")
    project_id = next(p.id for p in store.list_projects() if p.name == "demo")
    store.users.create_user(DEMO_USER)
    store.users.set_password(DEMO_USER, DEMO_PASSWORD)
    store.users.set_member(project_id, DEMO_USER, Role.OWNER)
    media = shlex.quote(str((out / "media").resolve()))
    console.print("\nopen the demo project in a browser:\n"
                  f"  LABELPORT_MEDIA_ROOTS={media} labelport serve "
                  f"--db {shlex.quote(str(db_path))}\n"
                  f"  then http://127.0.0.1:8080/ and sign in as {DEMO_USER!r} with the "
                  f"password {DEMO_PASSWORD!r}", highlight=False, soft_wrap=True)


DEMO_USER = "demo"
DEMO_PASSWORD = "labelport-demo"
"""The demo store's person (owner of the demo project), printed by `labelport demo`."""


def version_callback(value: bool) -> None:
    if value:
        console.print(f"labelport {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                               is_eager=True)] = False) -> None:
    """labelport: labeled computer-vision data out of an annotation store, in every format."""


def _images_folder(images: Path | None) -> Path | None:
    """``--images``, which must name a folder: one that does not exist would import with no
    image found and export with nothing copied, without a word."""
    if images is not None and not images.is_dir():
        raise InputError(f"--images {images}: no such folder")
    return images


def _fail(message: str) -> NoReturn:
    err_console.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(2)


def main() -> None:
    """The CLI: user errors, OS errors (a folder that cannot be written, a full disk) and
    database errors are one line and exit status 2, never a traceback."""
    try:
        app()
    except LabelportError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
    except Exception as exc:
        database = sys.modules.get("sqlalchemy.exc")  # loaded if a command opened the store
        if database is None or not isinstance(exc, database.SQLAlchemyError):
            raise
        _fail(f"database error: {getattr(exc, 'orig', None) or exc}")
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)

