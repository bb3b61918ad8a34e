"""Who may open which media: the one gate every path or URL a user named passes before
labelport reads a byte of it.

On one's own machine (the CLI) the user names their own files, and everything they can read is
allowed (`MediaAccess.local`). The service (the API and its export jobs, local or Celery) uses
`MediaAccess.service`: only files under the folders and URLs under the prefixes the operator
listed in ``$LABELPORT_MEDIA_ROOTS`` (plus the project's own uploads). A path is checked after
symlinks and ``..`` are resolved, and the resolved path is what is opened. An ``http(s)`` URL is
fetched only from public addresses: the host's addresses are resolved and checked, the
connection goes to the checked address (a second DNS answer cannot swap it), and every redirect
is checked the same way. Loopback, link-local and private addresses are fetched only when a
prefix names that address literally (``http://10.0.0.5:9000/``) or ``$LABELPORT_MEDIA_NETWORKS``
lists its network. Other schemes (``s3://``, ``gs://``) go through fsspec to the endpoint the
operator configured, under the listed prefixes only.

A denied medium is a `MediaDeniedError` naming the item, raised before anything is opened."""

from __future__ import annotations

import http.client
import ipaddress
import os
import re
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urljoin, urlsplit

from labelport.errors import InputError

ROOTS_ENV = "LABELPORT_MEDIA_ROOTS"
"""Comma-separated folders and URL prefixes the service may read media from."""
NETWORKS_ENV = "LABELPORT_MEDIA_NETWORKS"
"""Comma-separated networks (``10.0.0.0/8``) the service may fetch http(s) media from although
they are not public."""

MAX_REDIRECTS = 5
TIMEOUT_SECONDS = 30.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_IPV6_HTTP_HOST = re.compile(r"https?://\[[0-9a-f:.]+\]", re.IGNORECASE)
"""An http(s) URL's IPv6 host (``http://[::1]``): its ``::`` is no fsspec chaining, and the
service fetches http(s) with its own client, never through fsspec."""

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class MediaDeniedError(InputError):
    """A medium the service may not open: outside the operator's media roots, or at an address
    it may not fetch."""


class RemoteMediaError(OSError):
    """A remote medium that was allowed but could not be fetched (an HTTP error status): the
    export counts it as missing media, like a missing local file."""


@dataclass(frozen=True, slots=True)
class UrlPrefix:
    """A URL prefix as the operator wrote it, split so a URL is compared part by part: a host
    ``cdn.example.com`` does not cover ``cdn.example.com.evil.org``, and a path ``/a/`` does
    not cover ``/a/../b``."""

    scheme: str
    host: str
    port: int | None
    path: str

    @classmethod
    def parse(cls, text: str) -> UrlPrefix:
        parts = _split_url(text, what=f"{ROOTS_ENV} entry {text!r}")
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        return cls(scheme=parts.scheme, host=parts.host, port=parts.port, path=path)

    def covers(self, url: _Url) -> bool:
        return (url.scheme == self.scheme and url.host == self.host and url.port == self.port
                and (url.path + "/").startswith(self.path))

    def literal_address(self) -> IpAddress | None:
        """The address the prefix names literally (the operator allowed it), if any."""
        try:
            return ipaddress.ip_address(self.host.strip("[]"))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class _Url:
    scheme: str
    host: str
    port: int | None
    path: str
    """Percent-decoded, without query."""


def _split_url(url: str, *, what: str) -> _Url:
    """``url`` split and normalised (scheme and host in lower case, default ports dropped);
    refused when it has credentials, fsspec chaining (``::``), control characters, or ``.``/``..``
    path segments, which could make it name something its text does not show."""
    host = _IPV6_HTTP_HOST.match(url)
    if "::" in url[host.end() if host else 0:] or any(ord(c) < 32 or c == "\\" for c in url):
        raise MediaDeniedError(f"{what}: not a plain URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise MediaDeniedError(f"{what}: not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if not scheme or parts.username is not None or parts.password is not None:
        raise MediaDeniedError(f"{what}: expected scheme://host/path without credentials")
    path = unquote(parts.path) or "/"
    if any(segment in (".", "..") for segment in path.split("/")):
        raise MediaDeniedError(f"{what}: a URL path may not hold '.' or '..' segments")
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    return _Url(scheme=scheme, host=(parts.hostname or "").lower(), port=port, path=path)


def split_entries(value: str) -> list[str]:
    """The entries of a comma- (or newline-) separated setting (``$LABELPORT_MEDIA_ROOTS``)."""
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


def _is_url(entry: str) -> bool:
    scheme, sep, _ = entry.partition("://")
    return bool(sep) and len(scheme) > 1


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaAccess:
    """The media one process may open; build it with `local` or `service` (the service's
    settings build theirs: `labelport.jobs.config.JobSettings.media_access`)."""

    restricted: bool
    folders: tuple[Path, ...] = ()
    """Resolved folders whose files (after resolving symlinks) may be read."""
    prefixes: tuple[UrlPrefix, ...] = ()
    networks: tuple[IpNetwork, ...] = field(default=())
    """Non-public networks http(s) media may be fetched from."""
    networks_setting: str = NETWORKS_ENV
    """The variable listing them, named when an address is refused."""

    @classmethod
    def local(cls) -> MediaAccess:
        """The user's own machine (the CLI): every file and URL the user can reach."""
        return cls(restricted=False)

    @classmethod
    def service(cls, roots: Iterable[str] = (), *, networks: Iterable[str] = (),
                networks_setting: str = NETWORKS_ENV) -> MediaAccess:
        """The service: nothing but ``roots`` (folders, ``file://`` URIs and URL prefixes), and
        of non-public addresses only ``networks`` (listed in ``networks_setting``)."""
        folders: list[Path] = []
        prefixes: list[UrlPrefix] = []
        for entry in roots:
            if entry.startswith("file://"):
                folders.append(Path(unquote(urlsplit(entry).path)).resolve())
            elif _is_url(entry):
                prefixes.append(UrlPrefix.parse(entry))
            else:
                folders.append(Path(entry).expanduser().resolve())
        allowed: list[IpNetwork] = []
        for text in networks:
            try:
                allowed.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise InputError(f"{networks_setting}: {text!r} is not a network such as "
                                 "10.0.0.0/8") from None
        for prefix in prefixes:
            address = prefix.literal_address()
            if address is not None:
                allowed.append(ipaddress.ip_network(address))
        return cls(restricted=True, folders=tuple(folders), prefixes=tuple(prefixes),
                   networks=tuple(allowed), networks_setting=networks_setting)

    def with_folders(self, *folders: Path) -> MediaAccess:
        """This access plus ``folders`` (a project's own uploads)."""
        if not self.restricted:
            return self
        return replace(self, folders=(*self.folders, *(f.resolve() for f in folders)))

    def local_file(self, path: Path, *, what: str) -> Path:
        """The file to open for ``path``: resolved (symlinks, ``..``) and checked to lie under
        an allowed folder. ``what`` names the medium in the error (``media of d/a.png``)."""
        if not self.restricted:
            return path
        if "\0" in str(path):
            raise MediaDeniedError(f"{what}: a path may not hold a NUL byte")
        resolved = Path(os.path.realpath(path))
        if any(resolved.is_relative_to(folder) for folder in self.folders):
            return resolved
        raise MediaDeniedError(f"{what} at {str(path)!r} is not under a media root the "
                               f"operator allows ({ROOTS_ENV}); the service reads no other file")

    def check_url(self, url: str, *, what: str) -> None:
        """Refuse ``url`` unless a prefix covers it (the CLI allows every URL)."""
        if not self.restricted:
            return
        parts = _split_url(url, what=f"{what} at {url!r}")
        if not any(prefix.covers(parts) for prefix in self.prefixes):
            raise MediaDeniedError(f"{what} at {url!r} is not under a media URL prefix the "
                                   f"operator allows ({ROOTS_ENV}); the service fetches no "
                                   "other URL")

    @contextmanager
    def open_url(self, url: str, *, what: str) -> Iterator[IO[bytes]]:
        """A binary stream of the remote medium ``url``, checked (and, for http(s) under
        restriction, fetched by the guarded client). Errors of the fetch are `OSError`s (a
        `RemoteMediaError` for an HTTP error status); a denial is a `MediaDeniedError`."""
        self.check_url(url, what=what)
        if self.restricted and urlsplit(url).scheme.lower() in _DEFAULT_PORTS:
            response = self._fetch(url, what=what)
            try:
                yield response  # type: ignore[misc]
            finally:
                response.close()
            return
        import fsspec

        with fsspec.open(url, "rb") as stream:
            yield stream

    def connect(self, url: str, *, what: str,
                timeout: float = TIMEOUT_SECONDS) -> tuple[http.client.HTTPConnection, str]:
        """An unopened connection for the http(s) ``url``, checked against the prefixes and
        bound to a vetted address of its host, and the request target (path and query) to
        send on it; the caller sends one request and follows no redirect unchecked (the
        webhooks of `labelport.jobs.delivery` use it too)."""
        self.check_url(url, what=what)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise MediaDeniedError(f"{what} at {url!r}: expected an http or https URL")
        host = parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS[scheme]
        address = self._vetted_address(host, port, what=f"{what} at {url!r}")
        kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        connection = kind(host, port, timeout=timeout)
        connection._create_connection = _pinned(address)  # type: ignore[attr-defined]
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        return connection, target

    def _fetch(self, url: str, *, what: str) -> http.client.HTTPResponse:
        """GET ``url``, following redirects only to URLs this access allows, each connection
        made to an address checked here."""
        for _ in range(MAX_REDIRECTS + 1):
            connection, target = self.connect(url, what=what)
            try:
                connection.request("GET", target, headers={"User-Agent": "labelport"})
                response = connection.getresponse()
            except BaseException:
                connection.close()
                raise
            location = response.getheader("Location")
            if response.status in _REDIRECTS and location:
                response.close()
                connection.close()
                url = urljoin(url, location)
                continue
            if response.status != 200:
                response.close()
                connection.close()
                raise RemoteMediaError(f"HTTP {response.status} {response.reason}")
            return response
        raise MediaDeniedError(f"{what}: more than {MAX_REDIRECTS} redirects")

    def _vetted_address(self, host: str, port: int, *, what: str) -> str:
        """An address of ``host`` to connect to; refused when any of its addresses is not
        public and not allowed (a host with one private address is not trusted at all)."""
        try:
            infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise RemoteMediaError(f"cannot resolve {host!r} ({error})") from None
        addresses = [str(info[4][0]) for info in infos]
        for text in addresses:
            if not self._may_connect(ipaddress.ip_address(text.split("%", 1)[0])):
                raise MediaDeniedError(
                    f"{what}: {host} resolves to {text}, a loopback, link-local or private "
                    f"address the operator does not allow ({self.networks_setting})")
        if not addresses:
            raise RemoteMediaError(f"cannot resolve {host!r}")
        return addresses[0]

    def _may_connect(self, address: IpAddress) -> bool:
        inner = _inner_ipv4(address)
        checked = address if inner is None else inner
        if any(a in network for a in (address, checked) for network in self.networks):
            return True
        return checked.is_global and not checked.is_multicast


_CARRYING_IPV4 = tuple(ipaddress.IPv6Network(n) for n in (
    "::/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48"))
"""IPv4-compatible, SIIT and NAT64 addresses: the last 32 bits are the IPv4 address reached."""


def _inner_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to (IPv4-mapped, 6to4, Teredo's client, NAT64
    and the like), None for any other: a DNS64 resolver answers ``64:ff9b::a9fe:a9fe`` for a
    name, Python calls it global, and the NAT64 gateway connects to 169.254.169.254."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in _CARRYING_IPV4):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _pinned(address: str) -> Any:
    """`http.client`'s connection factory, connecting to ``address`` whatever host name the
    connection was made for (the name still goes into the Host header and TLS's SNI and
    certificate check)."""

    def create(where: tuple[str, int], timeout: float | None = None,
               source: tuple[str, int] | None = None) -> socket.socket:
        return socket.create_connection((address, where[1]), timeout, source)

    return create


_READS: ContextVar[MediaAccess | None] = ContextVar("labelport_reads", default=None)


@contextmanager
def reads_confined_to(folder: Path) -> Iterator[None]:
    """While the block runs (in this thread), readers open files only under ``folder``: an
    import in the service reads its upload, never a file the upload names elsewhere (an
    absolute image path in a CVAT XML, ``../`` in a YOLO list)."""
    token = _READS.set(MediaAccess.service([str(folder)]))
    try:
        yield
    finally:
        _READS.reset(token)


def readable(path: Path, *, what: str) -> Path:
    """``path`` if a reader may open it here (anything outside `reads_confined_to`), else a
    `MediaDeniedError` naming ``what``."""
    if may_read(path):
        return path
    raise MediaDeniedError(f"{what} {str(path)!r} is outside the uploaded files: an import on "
                           "the server reads its upload and nothing it names elsewhere")


def may_read(path: Path) -> bool:
    """Whether a reader may look at ``path`` here (to skip a reference instead of probing a
    file outside the confinement)."""
    confined = _READS.get()
    if confined is None:
        return True
    try:
        confined.local_file(path, what="file")
    except MediaDeniedError:
        return False
    return True


def uploads_folder(media_dir: Path, project_id: int) -> Path:
    """Where the service keeps a project's uploaded images: the one folder of the upload area
    that project's exports may read."""
    return media_dir / f"project-{project_id}"

