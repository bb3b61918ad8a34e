"""The Items tab: the grid with every annotation kind drawn in SVG, filters, keyset pages,
the GT/prediction toggle, thumbnails through the media access policy, the item page, and
404s for another project's items."""

from __future__ import annotations

import io
import re

from PIL import Image

from labelport.domain.model import Item
from labelport.domain.schema import LabelSchema
from tests.web.conftest import Web


def _item_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-item="(\d+)"', page)]


def test_grid_draws_every_kind(web: Web) -> None:
    alice = web.sign_in("alice")
    page = alice.get(f"/projects/{web.project}/items?show=both").text
    assert len(_item_ids(page)) == len(web.store.source("sample"))
    assert '<rect class="shape' in page  # boxes
    assert 'fill-rule="evenodd"' in page  # polygons, holes kept open
    assert '<circle class="shape' in page and '<line class="skeleton"' in page  # keypoints
    assert '<image class="mask"' in page and "data:image/png;base64," in page  # masks
    assert 'class="shape model"' in page  # predictions, dashed
    assert 'name="ids"' in page and "Export selected" in page


def test_prediction_toggle(web: Web) -> None:
    alice = web.sign_in("alice")
    truth = alice.get(f"/projects/{web.project}/items?show=gt").text
    predicted = alice.get(f"/projects/{web.project}/items?show=pred").text
    assert "shape model" not in truth and "shape model" in predicted


def test_filters_and_keyset_pages(web: Web) -> None:
    alice = web.sign_in("alice")
    base = f"/projects/{web.project}/items"
    first = alice.get(f"{base}?size=3").text
    ids = _item_ids(first)
    assert len(ids) == 3
    after = re.search(r'after=(\d+)" rel="next"', first)
    assert after and int(after.group(1)) == ids[-1]
    second = _item_ids(alice.get(f"{base}?size=3&after={after.group(1)}").text)
    assert second and min(second) > max(ids)
    every = _item_ids(alice.get(base).text)
    rejected = _item_ids(alice.get(f"{base}?status=rejected").text)
    assert rejected and set(rejected) < set(every)
    named = _item_ids(alice.get(f"{base}?name=%25").text)  # a % is a character, not LIKE's
    assert named == []
    unknown = alice.get(f"{base}?label=nope", status=400).text
    assert "nope" in unknown


def test_thumbnail_is_bounded_and_cached(web: Web) -> None:
    alice = web.sign_in("alice")
    item = _item_ids(alice.get(f"/projects/{web.project}/items").text)[0]
    url = f"/projects/{web.project}/items/{item}/image"
    first = alice.get(url)
    assert first.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(first.content)).size) <= 320
    cached = list((web.media / "media" / ".thumbnails").rglob("*.jpg"))
    assert len(cached) == 1
    assert alice.get(url).content == first.content
    assert len(list((web.media / "media" / ".thumbnails").rglob("*.jpg"))) == 1


def test_thumbnail_outside_media_roots_is_refused(web: Web) -> None:
    secret = web.media / "secret.png"
    Image.new("RGB", (8, 8)).save(secret)
    [item_id] = web.store.items.create_items(web.project, [Item(
        dataset="default", path="secret.png", width=8, height=8, media_uri=str(secret))])
    alice = web.sign_in("alice")
    refused = alice.get(f"/projects/{web.project}/items/{item_id}/image", status=400)
    assert "not under a media root" in refused.text


def test_item_page_and_other_projects_items(web: Web) -> None:
    alice = web.sign_in("alice")
    item = _item_ids(alice.get(f"/projects/{web.project}/items").text)[0]
    page = alice.get(f"/projects/{web.project}/items/{item}").text
    assert "Objects" in page and "Tasks" in page and "?size=large" in page
    bob = web.sign_in("bob")
    bob.get(f"/projects/{web.project}/items/{item}", status=404)
    bob.get(f"/projects/{web.project}/items/{item}/image", status=404)
    own = web.store.project_settings.create("bobs", LabelSchema(), description="",
                                            owner_id=web.store.users.user("bob").id)
    bob.get(f"/projects/{own.id}/items/{item}", status=404)
    bob.get(f"/projects/{own.id}/items/{item}/image", status=404)
