"""The `labelport` command line: parses, calls the library, shows progress. A user error
prints one line and exits with status 2, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from labelport import __version__
from labelport.domain.codec import schema_from_json
from labelport.domain.model import DEFAULT_LABELSET
from labelport.domain.schema import LabelSchema
from labelport.errors import InputError, LabelportError
from labelport.export.media import MediaMode
from labelport.export.run import ExportResult, run_export
from labelport.formats.base import FormatSpec
from labelport.formats.registry import all_formats, get_format
from labelport.store.db import DEFAULT_DB, open_store

app = typer.Typer(
    help="labelport: labeled computer-vision data out of an annotation store, in every format.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
project_app = typer.Typer(help="Create, list and inspect projects.", no_args_is_help=True)
app.add_typer(project_app, name="project")

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


def parse_options(spec: FormatSpec, pairs: list[str] | None) -> dict[str, Any]:
    """``NAME=VALUE`` pairs, converted to the types the format declares."""
    declared = {o.name: o for o in spec.options}
    parsed: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise InputError(f"option {pair!r} is not NAME=VALUE")
        option = declared.get(name)
        if option is None:
            valid = ", ".join(declared) or "none"
            raise InputError(f"format {spec.name!r} has no option {name!r}; options: {valid}")
        parsed[name] = _convert(name, raw, option.type, option.choices)
    return parsed


def _convert(name: str, raw: str, kind: type, choices: tuple[str, ...]) -> Any:
    if choices and raw not in choices:
        raise InputError(f"option {name}={raw!r}: expected one of {', '.join(choices)}")
    if kind is bool:
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise InputError(f"option {name}={raw!r}: expected true or false")
    try:
        return kind(raw)
    except ValueError:
        raise InputError(f"option {name}={raw!r}: expected {kind.__name__}") from None


def load_schema(path: Path) -> LabelSchema:
    """A label schema file: ``{"classes": [...], "classifications": [...]}``; classes without
    an ``id`` are numbered from 1 in file order."""
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: cannot read the schema file ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("classes", []), list):
        raise InputError(f"{path}: expected an object with a list `classes`")
    for position, label_class in enumerate(document.get("classes", []), start=1):
        if isinstance(label_class, dict):
            label_class.setdefault("id", position)
    try:
        return schema_from_json(document)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


@app.command()
def init(db: DbOption = None) -> None:
    """Create the store (or bring an existing one up to date)."""
    store = open_store(db)
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


@app.command("import")
def import_(
    project: str,
    format: str,
    path: Annotated[Path, typer.Argument(help="The file or folder to import.")],
    dataset: Annotated[str | None, typer.Option(help="Put every item into this dataset.")] = None,
    images: Annotated[Path | None, typer.Option(help="Folder holding the media.")] = None,
    option: OptionsOption = None,
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
    reader_options = parse_options(spec, option) | {"images": images}
    source = spec.reader(path, reader_options)
    with progress_bar(f"importing {path.name}", len(source)) as progress:
        summary = store.import_source(project, source, dataset=dataset, progress=progress)
    console.print(f"imported {summary.items} items and {summary.annotations} annotations "
                  f"into {project!r}")


@app.command()
def export(
    project: str,
    format: str,
    export_path: Annotated[Path, typer.Option("--export-path", help="Folder to write.")],
    labelset: Annotated[list[str] | None, typer.Option(
        help="Labelset to export (repeatable); default: all for lossless formats, "
             f"{DEFAULT_LABELSET} otherwise.")] = None,
    option: OptionsOption = None,
    db: DbOption = None,
) -> None:
    """Export a project in a format, with a manifest labelport-export.json."""
    spec = get_format(format)
    labelsets = labelset or (None if spec.lossless else [DEFAULT_LABELSET])
    source = open_store(db).source(project, labelsets=labelsets)
    with progress_bar(f"exporting {format}", len(source)) as progress:
        result = run_export(source, spec, export_path, options=parse_options(spec, option),
                            selection={"project": project, "labelsets": labelsets},
                            progress=progress)
    console.print(f"exported {result.counts.items} items and {result.counts.annotations} "
                  f"objects to {result.path} in {result.seconds:.2f}s")
    print_report(result)


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
) -> None:
    """Convert a file from one format to another, without a store."""
    reader_spec, writer_spec = get_format(from_format), get_format(to_format)
    if reader_spec.reader is None:
        raise InputError(f"format {from_format!r} can be written but not read")
    if not input.exists():
        raise InputError(f"{input}: no such file or folder")
    source = reader_spec.reader(input, parse_options(reader_spec, read_option) | {"images": images})
    with progress_bar(f"converting to {to_format}", len(source)) as progress:
        result = run_export(source, writer_spec, output,
                            options=parse_options(writer_spec, option),
                            selection={"converted_from": from_format}, progress=progress)
    console.print(f"wrote {result.counts.items} items and {result.counts.annotations} objects "
                  f"to {result.path}")
    print_report(result)


def print_report(result: ExportResult) -> None:
    """What the format converted, changed or could not carry, as the manifest records it."""
    if result.report.counts:
        table = Table("what the format changed or could not carry", "count",
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


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo store, media and exports.")] =
    Path("demo-exports"),
) -> None:
    """Build the sample project in a fresh SQLite store and export it to every format."""
    from labelport.sample import build_sample

    out.mkdir(parents=True, exist_ok=True)
    db_path = out / "demo.db"
    db_path.unlink(missing_ok=True)
    store = open_store(str(db_path))
    sample = build_sample(out / "media")
    store.create_project("demo", LabelSchema(), description=sample.project.description)
    store.import_source("demo", sample)
    table = Table("format", "files", "objects", "converted or not carried", "seconds",
                  title="labelport demo")
    for spec in all_formats():
        if spec.writer is None:
            continue
        target = out / spec.name
        labelsets = None if spec.lossless else [DEFAULT_LABELSET]
        result = run_export(store.source("demo", labelsets=labelsets), spec, target,
                            selection={"project": "demo", "labelsets": labelsets},
                            media=MediaMode.COPY)
        table.add_row(spec.name, str(result.files), str(result.counts.annotations),
                      str(sum(result.report.counts.values())), f"{result.seconds:.2f}")
    console.print(table)
    console.print(f"store: {db_path}   exports: {out}/<format>/")


def version_callback(value: bool) -> None:
    if value:
        console.print(f"labelport {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                               is_eager=True)] = False) -> None:
    """labelport: labeled computer-vision data out of an annotation store, in every format."""


def main() -> None:
    try:
        app()
    except LabelportError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)

