"""Image references in Label Studio tasks (``data.image``): the ones labelport writes for the
option ``image_root``, and the file name a reference read back ends with.

Label Studio shows an image only from a reference it can resolve (https://labelstud.io/guide/
storage): one of its local files, ``/data/local-files/?d=<path under its
LOCAL_FILES_DOCUMENT_ROOT>`` (served once a local storage of the project covers the folder); one
of its uploads, ``/data/upload/<project id>/<name>`` (files under its media folder's
``upload/``); or a URL (``http(s)://``, or ``s3://``/``gs://``/``azure-blob://`` through a
cloud storage of the project). ``image_root`` names where the export folder will be seen from
Label Studio, and each image's reference is that root joined with the image's path inside the
export (``images/street_001.png``); under an upload root it is the item's file name, which
resolves for images uploaded to Label Studio (a task read from its export keeps that name)."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import parse_qs, quote, unquote, urlparse

from labelport.errors import InputError
from labelport.formats._shared.image_files import reference_name

LOCAL_FILES = "/data/local-files/?d="
UPLOADS = "/data/upload/"
URL_SCHEMES = ("http", "https", "s3", "gs", "azure-blob")


def check_image_root(root: str) -> str:
    """``root`` without a trailing slash; an `InputError` when Label Studio could not resolve
    references under it."""
    root = root.rstrip("/")
    if root.startswith(LOCAL_FILES):
        folder = root.removeprefix(LOCAL_FILES)
        parts = PurePosixPath(unquote(folder)).parts
        if folder.startswith("/") or ".." in parts:
            raise InputError(f"image_root {root!r}: after ?d= give the export folder's path "
                             "relative to Label Studio's LOCAL_FILES_DOCUMENT_ROOT (no leading "
                             "/, no ..)")
        return root
    if root.startswith(UPLOADS) and len(root) > len(UPLOADS):
        return root
    if urlparse(root).scheme in URL_SCHEMES and urlparse(root).netloc:
        return root
    raise InputError(f"image_root {root!r} is not a place Label Studio reads images from; "
                     f"expected {LOCAL_FILES}<folder under its document root>, "
                     f"{UPLOADS}<project id>, or a URL prefix ({', '.join(URL_SCHEMES)})")


def image_reference(root: str, relative: str, *, file_name: str) -> str:
    """The reference of the image at ``relative`` (inside the export) under a checked root; an
    upload root takes the item's ``file_name`` instead: Label Studio serves only files it holds
    a record of, named as it stored them (``<uuid>-<name>``, the name a task read back from its
    export carries)."""
    if root.startswith(UPLOADS):
        return f"{root}/{quote(file_name, safe='')}"
    if root.startswith(LOCAL_FILES):
        folder = unquote(root.removeprefix(LOCAL_FILES))
        path = f"{folder}/{relative}" if folder else relative
        return LOCAL_FILES + quote(path, safe="/")
    return f"{root}/{quote(relative, safe='/')}"


def reference_file_name(reference: str) -> str:
    """The file name a task's image reference ends with; Label Studio's local-file URLs
    (``/data/local-files/?d=dir/a.jpg``) name it in their ``d`` parameter."""
    if reference.startswith(UPLOADS):  # a URL path on Label Studio's own host
        return PurePosixPath(unquote(reference)).name
    return PurePosixPath(local_files_path(reference) or reference_name(reference)).name


def local_files_path(reference: str) -> str | None:
    """The path under the document root a local-files reference names (else None)."""
    parsed = urlparse(reference)
    query = parse_qs(parsed.query).get("d")
    if query and parsed.path.rstrip("/").endswith("/data/local-files"):
        return query[0]
    return None
