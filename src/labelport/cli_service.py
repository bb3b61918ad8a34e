"""Service commands: `labelport serve`, `labelport user create`, `labelport token create`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from labelport.store.db import DEFAULT_DB, open_store

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


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    media_dir: Annotated[Path, typer.Option(help="Where uploaded images are kept.")] =
    Path("labelport-media"),
    db: DbOption = None,
) -> None:
    """Run the REST service (OpenAPI at /docs)."""
    import uvicorn

    from labelport.api.app import create_app
    from labelport.api.settings import Settings

    uvicorn.run(create_app(Settings(db=db, media_dir=media_dir)), host=host, port=port)


@user_app.command("create")
def user_create(
    name: str,
    admin: Annotated[bool, typer.Option("--admin", help="Sees and manages every project.")] =
    False,
    db: DbOption = None,
) -> None:
    """Create a user."""
    user = open_store(db).users.create_user(name, admin=admin)
    console.print(f"user {user.name!r} created" + (" (admin)" if user.is_admin else ""))


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
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
