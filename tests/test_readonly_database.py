"""A database this user cannot write (a copy published read-only, its folder too): the
commands that only read it work, and create, migrate or write nothing; the others end with
one line saying it is read-only, exit status 2 (issue 15).

Root ignores file modes, so when the tests run as root `veille` runs without any
capability (setpriv): the kernel then checks the modes as it does for any other user.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PROJECT, serving, veille

from crawler.config.model import load_config
from crawler.crawl.normalize import content_hash
from crawler.record.article import StoredArticle
from crawler.record.schema import MIGRATIONS, connect
from crawler.record.store import Store

CONFIG = """
[[source]]
id = "levant-rss"
kind = "feed"
url = "http://127.0.0.1:9/feed.xml"

[[conflict]]
id = "karabakh"
aliases = ["Karabakh"]
"""
URL = "https://levant.example/2026/11/20/talks-resume.html"
BODY = "Negotiators met again in Geneva on Friday, the first talks since the summer. " * 4

if os.geteuid() == 0:
    if shutil.which("setpriv") is None:
        pytest.skip("as root, these tests need setpriv (util-linux) to drop root's "
                    "capabilities", allow_module_level=True)
    UNPRIVILEGED = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all",
                    "--"]
else:
    UNPRIVILEGED = []


def as_reader(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`veille` run by a user who may read the database but not write it."""
    return subprocess.run(
        [*UNPRIVILEGED, sys.executable, "-m", "crawler", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=PROJECT,
        env={**os.environ, "VEILLE_BUSY_TIMEOUT": "1"},
    )


def fill(db: Path, config: Path) -> None:
    """Register the configured source and store one article, as a crawl would."""
    article = StoredArticle(
        source_id="levant-rss", canonical_url=URL, urls=((URL, "canonical"),),
        title="Talks resume", lead="Negotiators met again.", body=BODY, authors=(),
        topic=None, section=None, published_at="2026-11-20T08:15:00Z", published_local=None,
        updated_at=None, updated_local=None, image_url=None, image_caption=None,
        language="en", word_count=len(BODY.split()), content_hash=content_hash(BODY),
        listed_url=URL,
    )
    with Store.open(db) as store:
        store.sync_sources(load_config(config).sources)
        store.save_article(article)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of the folder with a hash of its bytes: what "nothing written" means."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture
def published(tmp_path: Path) -> Iterator[Path]:
    """An empty folder that the fixture makes read-only (0555, its files 0444) once the test
    has put a database in it; the modes are restored afterwards for the clean-up."""
    folder = tmp_path / "published"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


def make_read_only(folder: Path) -> dict[str, str]:
    """Make the folder and its files read-only, check that a reader really cannot write
    there, and return the folder's snapshot."""
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)
    probe = subprocess.run(
        [*UNPRIVILEGED, sys.executable, "-c",
         f"open({str(folder / 'probe')!r}, 'x'); open({str(folder / 'veille.db')!r}, 'r+b')"],
        capture_output=True, text=True, check=False)
    assert probe.returncode != 0 and "PermissionError" in probe.stderr, probe.stderr
    return snapshot(folder)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "veille.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.mark.parametrize("args, expected", [
    (("sources",), r"levant-rss +feed"),
    (("sources", "--json"), re.escape('"articles": 1,')),
    (("history", URL), re.escape("1 version,")),
    (("alerts",), "0 pending, 0 sending, 0 sent"),
    (("conflicts",), "karabakh"),
])
def test_read_commands_work_on_a_database_in_a_read_only_folder(published, config, args,
                                                                 expected):
    # WAL, closed cleanly: no -wal or -shm left, and SQLite could not create the -shm
    # its WAL reader needs: the file is read as it stands (immutable).
    db = published / "veille.db"
    fill(db, config)
    assert db.read_bytes()[18:20] == b"\x02\x02"  # WAL, read from the header untouched
    before = make_read_only(published)
    result = as_reader("--config", config, "--db", db, *args)
    assert result.returncode == 0, result.stderr
    assert re.search(expected, result.stdout), result.stdout
    assert result.stderr == ""
    assert snapshot(published) == before  # nothing created, migrated or written


def test_read_commands_read_the_commits_left_in_a_wal_file(tmp_path, published, config):
    """A copy taken while a writer had it open: -wal and -shm beside it, and a commit
    only in the -wal, which the read-only reader must see."""
    fill(tmp_path / "veille.db", config)
    writer = sqlite3.connect(tmp_path / "veille.db", isolation_level=None)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")  # the commit stays in the -wal
        writer.execute("UPDATE sources SET last_error = 'only in the wal', failure_count = 3")
        for suffix in ("", "-wal", "-shm"):
            shutil.copy(tmp_path / f"veille.db{suffix}", published / f"veille.db{suffix}")
    finally:
        writer.close()
    before = make_read_only(published)
    assert {"veille.db", "veille.db-wal", "veille.db-shm"} <= set(before)
    result = as_reader("--config", config, "--db", published / "veille.db", "sources", "--json")
    assert result.returncode == 0, result.stderr
    [source] = json.loads(result.stdout)
    assert (source["id"], source["last_error"], source["failures"]) == (
        "levant-rss", "only in the wal", 3)
    assert snapshot(published) == before


@pytest.mark.parametrize("args", [("init",), ("crawl", "--no-progress"), ("alerts", "send"),
                                  ("rematch",)])
def test_write_commands_on_a_read_only_database_say_so_in_one_line(published, config, args):
    db = published / "veille.db"
    fill(db, config)
    before = make_read_only(published)
    result = as_reader("--config", config, "--db", db, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"Error: {db}: database is read-only (this user cannot write the file or its "
        "folder); commands that only read it (sources, history, alerts, conflicts, serve) "
        "work\n")
    assert snapshot(published) == before


def test_an_older_read_only_database_needs_a_writable_copy_to_upgrade(published, config):
    db = published / "veille.db"
    old = connect(db)
    old.enable_wal()
    last = MIGRATIONS.pending(old)[-1].name
    MIGRATIONS.apply(old, stop_before=last)  # a database of the version before
    old.close()
    before = make_read_only(published)
    result = as_reader("--config", config, "--db", db, "sources")
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: {db}: database is read-only and its schema is older than this version of "
        "Veille (1 migration to apply): upgrade a writable copy (any `veille` command on "
        "it does)\n")
    assert snapshot(published) == before
    # The same file, writable, is upgraded by the same command.
    for path in published.iterdir():
        path.chmod(0o644)
    published.chmod(0o755)
    assert veille("--config", config, "--db", db, "sources").returncode == 0
    assert not MIGRATIONS.pending(connect(db))


def test_serve_serves_a_read_only_database(published, config):
    db = published / "veille.db"
    fill(db, config)
    before = make_read_only(published)
    with serving("--db", db, "serve", "--port", "0", prefix=tuple(UNPRIVILEGED)) as (_, url):
        with urllib.request.urlopen(url + "/articles_with_conflicts.json?_shape=array") as r:
            assert [a["title"] for a in json.load(r)] == ["Talks resume"]
    assert snapshot(published) == before
