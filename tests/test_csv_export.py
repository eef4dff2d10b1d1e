"""What Datasette's CSV export does with a cell that a spreadsheet reads as a formula
(issue 15): it writes it as stored. Veille has no CSV export of its own; the README says
how to open Datasette's safely. This test pins the behaviour the README describes."""

from __future__ import annotations

import asyncio
import csv
import io

from test_storage import article

from crawler.record.store import Store
from crawler.serve import build_datasette

FORMULA = '=HYPERLINK("http://attacker.example/","Read more")'


def test_datasettes_csv_keeps_a_title_that_starts_with_a_formula(tmp_path):
    db = tmp_path / "veille.db"
    with Store.open(db) as store:
        store.sync_sources([])
        store.db.execute("INSERT INTO sources (id, name, kind, url) VALUES "
                         "('s1', 'S', 'feed', 'https://news.example/rss')")
        store.save_article(article(title=FORMULA, source_id="s1"))
    ds = build_datasette(db)

    async def export() -> str:
        response = await ds.client.get("/veille/articles.csv?_size=max")
        assert response.status_code == 200
        return response.text

    [row] = list(csv.DictReader(io.StringIO(asyncio.run(export()))))
    assert row["title"] == FORMULA  # as stored: a spreadsheet would evaluate it
