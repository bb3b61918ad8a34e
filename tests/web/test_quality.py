"""Per-annotator quality metrics: the same numbers on the Overview, as CSV and JSON from the
page, from the API and from the CLI (the sample's annotators, counted by hand)."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from labelport.cli import app
from tests.web.conftest import Web

ANA = {"annotator": "ana", "objects": 4, "mean_lead_time_s": 12.5, "tasks": 2, "reviewed": 2,
       "rejected": 0, "reviewed_share": 1.0, "rejected_share": 0.0}


def test_quality_on_the_page_api_and_cli(web: Web) -> None:
    alice = web.sign_in("alice")
    page = alice.get(f"/projects/{web.project}").text
    assert "Quality per annotator" in page and "12.5 s" in page
    rows = alice.get(f"/projects/{web.project}/quality.json").json()
    assert ANA in rows
    dmitri = next(r for r in rows if r["annotator"] == "dmitri")
    assert (dmitri["tasks"], dmitri["rejected"]) == (3, 1)
    as_csv = list(csv.DictReader(io.StringIO(
        alice.get(f"/projects/{web.project}/quality.csv").text)))
    assert [r["annotator"] for r in as_csv] == [r["annotator"] for r in rows]
    token = web.store.users.create_token("vera")
    api = web.client().get(f"/api/projects/{web.project}/quality",
                           headers={"Authorization": f"Token {token}"})
    assert api.status_code == 200 and api.json() == rows
    api_csv = web.client().get(f"/api/projects/{web.project}/quality?format=csv",
                               headers={"Authorization": f"Token {token}"})
    assert api_csv.headers["content-type"].startswith("text/csv")
    web.sign_in("bob").get(f"/projects/{web.project}/quality.json", status=404)
    db = str(web.media / "web.db")
    result = CliRunner().invoke(app, ["project", "quality", "sample", "--format", "json",
                                      "--db", db])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == rows
