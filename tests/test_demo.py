"""The README's main command, `veille demo`, end to end, checked against data/demo/expected.json."""

from __future__ import annotations

import json
import re
import signal

from click.testing import CliRunner
from conftest import PROJECT, rows, running, veille

from crawler.cli import cli
from crawler.demo import DEMO_DIR


def test_demo_runs_to_the_end(tmp_path):
    out = tmp_path / "demo"
    result = veille("demo", "--output", out, timeout=300)
    assert result.returncode == 0, result.stderr
    db = out / "veille.db"
    expected = json.loads((DEMO_DIR / "expected.json").read_text(encoding="utf-8"))
    articles = rows(db, "SELECT * FROM articles")
    assert len(articles) == 37  # 36 in edition 1, one more in edition 2
    by_path = {re.sub(r"^http://127\.0\.0\.1:\d+", "", a["canonical_url"]): a for a in articles}
    for item in expected["edition_1"]["articles"]:
        article = by_path[item["path"]]
        assert article["title"] == item["title"]
        assert article["language"] == item["language"]
        assert item["body_snippet"] in article["body"], item["path"]
    cp1252 = by_path["/gazette/article/4405-georgie-prix-du-pain.html"]
    assert "Ã" not in cp1252["body"] and "\ufffd" not in cp1252["body"]
    assert len(rows(db, "SELECT * FROM article_versions")) == 1
    runs = rows(db, "SELECT * FROM crawl_runs ORDER BY id")
    second = [r for r in runs[8:16]]
    assert sum(r["new"] for r in second) == 0 and sum(r["updated"] for r in second) == 0
    # The idle re-crawl: one conditional GET per listing, feed and sitemap URL (the sitemap
    # index and its news sitemap), answered 304; robots.txt from the cache; no article.
    assert sum(r["requests"] for r in second) == 9
    assert re.search(r"Requests per crawl: \d+, 9, \d+", result.stdout)
    assert "Browse it" in result.stdout
    # Alerts: each desk once per story; the webhook receiver checked every signature.
    # 13 Sudan and Sahel articles, two of them wire copies of others: 11 stories, 11 alerts.
    assert "The webhook receiver got 11 deliveries (signatures checked; 0 refused)" in result.stdout
    sent = {r["subscription_id"]: r["n"] for r in rows(
        db, "SELECT subscription_id, count(*) AS n FROM alerts WHERE status = 'sent' "
            "GROUP BY subscription_id")}
    assert sent == {"desk-afrique": 11, "desk-caucase": 11}
    # Wire copies across outlets are grouped into stories, and the demo shows them.
    assert "37 articles make 33 stories" in result.stdout
    grouped = rows(db, "SELECT story_id FROM articles GROUP BY story_id HAVING count(*) > 1")
    assert len(grouped) == 4
    assert (out / "feeds" / "desk-caucase.xml").is_file()


def test_every_command_has_help_and_is_in_the_readme():
    """Every command has an example in its help and is in the command reference
    (docs/commands.md, which the README links to)."""
    readme = (PROJECT / "docs" / "commands.md").read_text(encoding="utf-8")
    runner = CliRunner()
    for name in cli.commands:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output, name
        assert f"veille {name}" in readme, name


def test_demo_never_empties_a_folder_it_did_not_make(tmp_path):
    mine = tmp_path / "data"
    mine.mkdir()
    (mine / "veille.toml").write_text("# the newsroom's sources\n", encoding="utf-8")
    result = veille("demo", "--output", mine)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"Error: {mine}: exists and was not made by `veille demo` (no .veille-demo file in "
        "it); choose another --output, or remove it yourself")
    assert [p.name for p in mine.iterdir()] == ["veille.toml"]
    assert (mine / "veille.toml").read_text(encoding="utf-8") == "# the newsroom's sources\n"


def test_demo_serve_keeps_the_site_up_to_crawl_again(tmp_path):
    """`demo --serve`: after the demo, its site stays up until Ctrl-C, and the printed
    command crawls it again (the demo's own folder, emptied and reused by a second demo)."""
    out = tmp_path / "demo"
    out.mkdir()  # an empty folder is fine
    with running("demo", "-o", out, "--serve", ready="Ctrl-C stops it",
                 timeout=240) as (proc, lines):
        command = next(line for line in lines if "veille --config" in line).split()
        secret = command[0].split("=", 1)[1]
        again = veille(*command[2:], env={"VEILLE_DEMO_WEBHOOK_SECRET": secret})
        # Edition 2 is still served: nothing new, every source answered (one partial).
        assert again.returncode in (0, 3), again.stderr
        assert "0 failed: 0 new" in again.stdout
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    assert (out / ".veille-demo").is_file()


def test_help_examples_name_ids_of_the_shipped_config():
    """The ids in the help's examples exist in the configuration `veille init` writes."""
    from crawler.config.model import SHIPPED_CONFIG, load_config

    config = load_config(SHIPPED_CONFIG)
    sources = {s.id for s in config.sources}
    subscriptions = {s.id for s in config.subscriptions}
    runner = CliRunner()
    named = []
    for name, command in cli.commands.items():
        helps = [runner.invoke(cli, [name, "--help"]).output]
        helps += [runner.invoke(cli, [name, sub, "--help"]).output
                  for sub in getattr(command, "commands", {})]
        for text in helps:
            for example in re.findall(r"Example: (.+)", text):
                named += [("source", s) for s in re.findall(r"(?:--source|-s) (\S+)", example)]
                named += [("subscription", s) for s in re.findall(
                    r"(?:--subscription|alerts test) (\S+)", example)]
    assert named
    assert all(i in (sources if kind == "source" else subscriptions) for kind, i in named), named
