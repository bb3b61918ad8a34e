"""Service commands: `labelport serve`, `labelport worker`, `labelport user create`,
`labelport token create`, `labelport artifacts cleanup`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from labelport.cli_store import DEFAULT_DB, open_store

console = Console()

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="LABELPORT_DB",
                 help=f"Store: a SQLite file path or a postgresql+psycopg:// URL "
                      f"(default {DEFAULT_DB})."),
]

user_app = typer.Typer(help="Users of the service.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (header `Authorization: Token <token>`).",
                        no_args_is_help=True)
artifacts_app = typer.Typer(help="Finished exports kept for download.", no_args_is_help=True)
RunnerOption = Annotated[str | None, typer.Option(
    help="Where export jobs run: local (a pool in the server) or celery (`labelport worker` "
         "processes); default $LABELPORT_RUNNER or local.")]
ArtifactsOption = Annotated[str | None, typer.Option(
    help="Where finished exports are kept: a folder or an fsspec URL such as s3://bucket/x; "
         "default $LABELPORT_ARTIFACTS or ./labelport-artifacts.")]


def serve(
    host: str = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port, 1-65535.")] = 8080,
    media_dir: Annotated[Path, typer.Option(
        envvar="LABELPORT_MEDIA_DIR",
        help="Where uploaded images are kept (workers read them there too).")] =
    Path("labelport-media"),
    runner: RunnerOption = None,
    artifacts: ArtifactsOption = None,
    db: DbOption = None,
) -> None:
    """Run the REST service (OpenAPI at /docs)."""
    import uvicorn

    from labelport.api.app import create_app
    from labelport.api.settings import Settings
    from labelport.jobs.config import JobSettings

    jobs = JobSettings.from_env(runner=runner, artifacts=artifacts)
    uvicorn.run(create_app(Settings(db=db, media_dir=media_dir, jobs=jobs)), host=host,
                port=port)


def worker(
    concurrency: Annotated[int, typer.Option(help="Exports this worker runs at once.")] = 2,
    queue: Annotated[str | None, typer.Option(
        help="Celery queue to take exports from (default $LABELPORT_QUEUE or labelport).")] =
    None,
    artifacts: ArtifactsOption = None,
    loglevel: str = "info",
    db: DbOption = None,
) -> None:
    """Run a Celery worker taking export jobs from Redis ($LABELPORT_REDIS_URL, default
    redis://127.0.0.1:6379/0); start one per machine, all sharing the database and the
    artifact storage."""
    for name, value in (("LABELPORT_DB", db), ("LABELPORT_QUEUE", queue),
                        ("LABELPORT_ARTIFACTS", artifacts)):
        if value is not None:
            os.environ[name] = value
    from labelport.jobs.celery_app import app, settings

    app.worker_main(["worker", "--pool", "threads", "--concurrency", str(concurrency),
                     "--queues", settings.queue, "--loglevel", loglevel])


@artifacts_app.command("cleanup")
def artifacts_cleanup(artifacts: ArtifactsOption = None, db: DbOption = None,
                      exports: Annotated[list[Path] | None, typer.Option(
                          "--exports", help="Also a folder that exports are written into: "
                          "remove what killed exports left there (repeatable).")] = None,
                      ) -> None:
    """Remove expired export archives, half-uploaded ones a dead worker left behind, and the
    staging folders of killed exports and jobs (older than a day, or whose process is gone)."""
    import tempfile

    from labelport.export.package import remove_leftovers
    from labelport.jobs.artifacts import ArtifactStorage, cleanup_expired
    from labelport.jobs.config import JobSettings

    storage = ArtifactStorage(JobSettings.from_env(artifacts=artifacts).artifacts)
    expired = cleanup_expired(open_store(db), storage)
    partial = storage.remove_partials()
    leftovers = sum(len(remove_leftovers(folder)) for folder in exports or ())
    leftovers += len(remove_leftovers(Path(tempfile.gettempdir()), jobs=True))
    console.print(f"removed {expired} expired and {partial} partial artifacts, {leftovers} "
                  "leftovers of killed exports")


@user_app.command("create")
def user_create(
    name: str,
    admin: Annotated[bool, typer.Option("--admin", help="Sees and manages every project.")] =
    False,
    password: Annotated[bool, typer.Option(
        "--password", help="Also set a password for the web app: prompted, or read from the "
                           "first line of standard input when it is not a terminal.")] = False,
    db: DbOption = None,
) -> None:
    """Create a user."""
    secret = _read_password() if password else None
    store = open_store(db)
    user = store.users.create_user(name, admin=admin)
    if secret is not None:
        store.users.set_password(name, secret)
    console.print(f"user {user.name!r} created" + (" (admin)" if user.is_admin else "")
                  + (" with a password" if secret is not None else ""))


@user_app.command("set-password")
def user_set_password(name: str, db: DbOption = None) -> None:
    """Set the web app password of user NAME: prompted, or read from the first line of
    standard input when it is not a terminal."""
    open_store(db).users.set_password(name, _read_password())
    console.print(f"password of {name!r} set")


def _read_password() -> str:
    """A password from the terminal (asked twice) or from standard input's first line."""
    if sys.stdin.isatty():
        secret: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return secret
    return sys.stdin.readline().rstrip("\r\n")


@user_app.command("list")
def user_list(db: DbOption = None) -> None:
    """List the users."""
    for user in open_store(db).users.list_users():
        console.print(user.name + (" (admin)" if user.is_admin else ""), highlight=False)


@token_app.command("create")
def token_create(name: str, db: DbOption = None) -> None:
    """Make a new API token for user NAME and print it; it is stored hashed, so this is the
    only time it is shown."""
    print(open_store(db).users.create_token(name))


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(worker)
    app.add_typer(artifacts_app, name="artifacts")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
