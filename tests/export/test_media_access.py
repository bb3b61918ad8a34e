"""The media access policy: the CLI reads what the user names; the service reads only under the
operator's roots (after symlinks and ``..``), fetches only covered URLs from allowed addresses
(resolved, and on every redirect), and a denied medium fails the export naming the item before
anything is copied."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest

from labelport.domain.model import Item, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import MemorySource
from labelport.export.media import MediaMode, media_placer
from labelport.export.media_access import MediaAccess, MediaDeniedError, RemoteMediaError
from labelport.export.pipeline import ExportRequest, run_pipeline
from labelport.formats.base import Report
from labelport.jobs.config import JobSettings
from tests.media_server import serve_folder

IMAGE = b"not decoded by the media stage\n"


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    """An allowed folder holding ``a.png``, and a secret file beside it."""
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "a.png").write_bytes(IMAGE)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"SECRET")
    return allowed, secret


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "served"
    root.mkdir()
    (root / "a.png").write_bytes(IMAGE)
    with serve_folder(root) as base:
        yield base


def _item(uri: str) -> Item:
    return Item(dataset="d", path="a.png", width=4, height=3, media_uri=uri)


def test_the_cli_reads_what_the_user_names(roots: tuple[Path, Path]) -> None:
    _, secret = roots
    local = MediaAccess.local()
    assert local.local_file(secret, what="media") == secret
    local.check_url("http://127.0.0.1:9/x", what="media")


def test_the_service_reads_only_under_its_roots(roots: tuple[Path, Path]) -> None:
    allowed, secret = roots
    (allowed / "inside-link.png").symlink_to(allowed / "a.png")
    (allowed / "escape.png").symlink_to(secret)
    (allowed / "dir-link").symlink_to(secret.parent)
    access = MediaAccess.service([str(allowed)])

    assert access.local_file(allowed / "a.png", what="m") == (allowed / "a.png").resolve()
    assert access.local_file(allowed / "inside-link.png", what="m") == \
        (allowed / "a.png").resolve()
    for denied in (secret, allowed / ".." / secret.name, allowed / "escape.png",
                   allowed / "dir-link" / secret.name, Path("/etc/passwd"),
                   Path("/proc/self/environ"), Path(str(allowed) + "-sibling/a.png"),
                   Path(f"{allowed}/a\0.png")):
        with pytest.raises(MediaDeniedError, match="media of d/a.png"):
            access.local_file(denied, what="media of d/a.png")
    with pytest.raises(MediaDeniedError):
        MediaAccess.service([]).local_file(allowed / "a.png", what="m")


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://cdn.example.com/media/a.png", True),
    ("https://CDN.Example.com:443/media/sub/a%20b.png?v=1", True),
    ("https://cdn.example.com/media", True),
    ("https://cdn.example.com.evil.org/media/a.png", False),
    ("https://cdn.example.com/mediaX/a.png", False),
    ("https://cdn.example.com/media/../secret", False),
    ("https://cdn.example.com/media/%2e%2e/secret", False),
    ("https://cdn.example.com/media/a\\..\\b", False),
    ("https://user@cdn.example.com/media/a.png", False),
    ("https://evil.org@cdn.example.com/media/a.png", False),
    ("http://cdn.example.com/media/a.png", False),
    ("https://cdn.example.com:8443/media/a.png", False),
    ("s3://bucket/images/a.png", True),
    ("s3://bucket/images/a.png::file:///etc/passwd", False),
    ("s3://bucket-2/images/a.png", False),
    ("file:///etc/passwd", False),
    ("gopher://cdn.example.com/media/a.png", False),
])
def test_url_prefixes_are_compared_part_by_part(url: str, allowed: bool) -> None:
    access = MediaAccess.service(["https://cdn.example.com/media/", "s3://bucket/images"])
    if allowed:
        access.check_url(url, what="media of d/a.png")
    else:
        with pytest.raises(MediaDeniedError, match="media of d/a.png"):
            access.check_url(url, what="media of d/a.png")


def test_an_ipv6_host_is_no_fsspec_chaining() -> None:
    access = MediaAccess.service(["http://[::1]:8080/media/"])
    access.check_url("http://[::1]:8080/media/a.png", what="media")
    for url in ("http://[::1]:8080/media/a.png::file:///etc/passwd", "s3://[::1]/media/a.png"):
        with pytest.raises(MediaDeniedError, match="not a plain URL"):
            access.check_url(url, what="media")


@pytest.mark.parametrize(("address", "public"), [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),
    ("fe80::1", False), ("fd00::1", False), ("::ffff:127.0.0.1", False), ("224.0.0.1", False),
    ("8.8.8.8", True), ("2001:4860:4860::8888", True),
])
def test_only_public_addresses_unless_the_operator_allows(address: str, public: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert MediaAccess.service([])._may_connect(ip) is public
    wide = MediaAccess.service([], networks=["10.0.0.0/8", "fe80::/10"])
    assert wide._may_connect(ipaddress.ip_address("10.200.0.1"))
    assert wide._may_connect(ipaddress.ip_address("fe80::1"))
    assert not wide._may_connect(ipaddress.ip_address("127.0.0.1"))


def _fetch(access: MediaAccess, url: str) -> bytes:
    with access.open_url(url, what="media of d/a.png") as stream:
        return stream.read()


def test_http_media_from_a_prefix_naming_the_address(served: str) -> None:
    access = MediaAccess.service([f"{served}/"])
    assert _fetch(access, f"{served}/a.png") == IMAGE
    assert _fetch(access, f"{served}/redirect?to=/a.png") == IMAGE  # same prefix: followed
    with pytest.raises(RemoteMediaError, match="404"):
        _fetch(access, f"{served}/missing.png")


def test_a_host_name_resolving_to_loopback_is_not_fetched(served: str) -> None:
    port = served.rsplit(":", 1)[1]
    access = MediaAccess.service([f"http://localhost:{port}/"])
    with pytest.raises(MediaDeniedError, match="loopback, link-local or private"):
        _fetch(access, f"http://localhost:{port}/a.png")
    allowed = MediaAccess.service([f"http://localhost:{port}/"],
                                  networks=["127.0.0.0/8", "::1/128"])
    assert _fetch(allowed, f"http://localhost:{port}/a.png") == IMAGE


def test_redirects_are_checked_like_the_first_url(served: str, tmp_path: Path) -> None:
    other_root = tmp_path / "other"
    other_root.mkdir()
    (other_root / "secret").write_bytes(b"SECRET")
    access = MediaAccess.service([f"{served}/"])
    port = served.rsplit(":", 1)[1]
    with serve_folder(other_root) as other:
        for target in (f"{other}/secret", f"http://localhost:{port}/a.png",
                       "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"):
            with pytest.raises(MediaDeniedError, match="media of d/a.png"):
                _fetch(access, f"{served}/redirect?to={target}")


def test_a_denied_medium_fails_placing_before_anything_is_written(
        roots: tuple[Path, Path], served: str, tmp_path: Path) -> None:
    allowed, secret = roots
    access = MediaAccess.service([str(allowed)])
    for uri in (str(secret), secret.as_uri(), f"{served}/a.png", "/proc/self/environ"):
        place = media_placer(MediaMode.COPY, Report(), access)
        with pytest.raises(MediaDeniedError, match="media of d/a.png"):
            place(_item(uri), tmp_path / "out" / "a.png")
        assert not (tmp_path / "out").exists()
    place = media_placer(MediaMode.COPY, Report(), access)
    place(_item(str(allowed / "a.png")), tmp_path / "out" / "a.png")
    assert (tmp_path / "out" / "a.png").read_bytes() == IMAGE


def test_a_denied_medium_fails_the_export_and_publishes_nothing(
        roots: tuple[Path, Path], tmp_path: Path) -> None:
    allowed, secret = roots
    items = (_item(str(allowed / "a.png")),
             Item(dataset="d", path="b.png", width=4, height=3, media_uri=str(secret)))
    source = MemorySource(project=ProjectInfo(name="p"),
                          schema=LabelSchema(classes=(LabelClass(id=1, name="car"),)),
                          items=tuple(ItemRecord(item=item) for item in items))
    request = ExportRequest(format="coco", media=MediaMode.COPY,
                            media_access=MediaAccess.service([str(allowed)]))
    with pytest.raises(MediaDeniedError, match="media of d/b.png"):
        run_pipeline(source, request, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["allowed", "secret.txt"]


def test_an_export_job_reads_its_own_projects_uploads_only(tmp_path: Path) -> None:
    settings = JobSettings(media_dir=str(tmp_path / "uploads"), media_roots=str(tmp_path / "r"))
    own = tmp_path / "uploads" / "project-7" / "d-default" / "a.png"
    other = tmp_path / "uploads" / "project-8" / "d-default" / "a.png"
    access = settings.media_access(7)
    assert access.local_file(own, what="m") == own.resolve()
    assert access.local_file(tmp_path / "r" / "x.png", what="m") == (tmp_path / "r" / "x.png")
    with pytest.raises(MediaDeniedError):
        access.local_file(other, what="m")
