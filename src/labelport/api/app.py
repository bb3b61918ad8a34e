"""`create_app`: the FastAPI application over one store. Every route under ``/api`` needs a
token (see `labelport.api.auth`); OpenAPI is at ``/docs``; the web app's pages are mounted at
``/`` (see `labelport.web`)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import APIRouter, Depends, FastAPI

from labelport import __version__
from labelport.api.deps import current_user
from labelport.api.errors import install_error_handlers
from labelport.api.limits import RequestGuard
from labelport.api.routers import (
    annotations,
    datasets,
    exports,
    formats,
    imports,
    items,
    members,
    projects,
    quality,
    releases,
    tasks,
    users,
)
from labelport.api.settings import Settings
from labelport.jobs.service import make_runner
from labelport.store import open_store
from labelport.web.app import mount_web_app

ROUTERS = (users.router, formats.router, projects.router, members.router, datasets.router,
           items.router, tasks.router, annotations.router, releases.router, imports.router,
           exports.router, quality.router)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service over the store ``settings.db`` (opened, and migrated, here)."""
    settings = settings or Settings()
    # export jobs read this server's uploads (and nothing else the operator did not allow)
    settings = replace(settings, jobs=replace(settings.jobs, media_dir=str(settings.media_dir)))
    store = open_store(settings.db)
    runner = make_runner(store, settings.jobs)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runner.start()
        yield
        runner.stop()
        store.close()

    app = FastAPI(title="labelport", version=__version__, lifespan=lifespan,
                  description="Labeled computer-vision data in and out, in every format.",
                  docs_url=None, redoc_url=None)  # /docs: install_docs, no CDN
    app.state.store = store
    app.state.settings = settings
    app.state.runner = runner
    install_error_handlers(app)
    app.add_middleware(RequestGuard, store=store, limits=settings.limits)
    api = APIRouter(prefix="/api", dependencies=[Depends(current_user)])
    for router in ROUTERS:
        api.include_router(router)
    app.include_router(api)
    mount_web_app(app, store, settings, runner)
    return app
