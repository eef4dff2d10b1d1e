"""Scale-out: workers and one ingester on a real Redis server crawl the demo site into
the same record a single machine makes; killed workers and ingesters lose nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import PROJECT, rows, veille

from crawler.cluster import wire
from crawler.config.model import load_config
from crawler.demo import render_demo_config
from crawler.errors import ConfigError
from crawler.page.links import HttpValidators
from crawler.page.listing import ListingHint

pytest_plugins = ["redis_server"]

HELD = "/levant/2026/11/18/aghdam-deminage-retour-habitants.html"
QUEUED = re.compile(r"(\S+): queued for the workers \(run (\d+)\)")
STORED = re.compile(r": new article #\d+")


def redis_table(url: str, prefix: str, worker_timeout: str = "1s") -> str:
    """The `[redis]` table of a test config: a dead worker's requests move on after 1 s."""
    return (f'\n[redis]\nurl = "{url}"\nprefix = "{prefix}"\n'
            f'worker_timeout = "{worker_timeout}"\n')


def start(config: Path, *args: str | Path, db: Path | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "crawler", "--config", str(config)]
    if db is not None:
        command += ["--db", str(db)]
    return subprocess.Popen([*command, *map(str, args)], cwd=PROJECT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen, timeout: float = 120) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{process.args}: {err[-3000:]}"
    return out


@pytest.fixture
def cluster_config(demo_site, tmp_path, redis_url, redis_prefix) -> Path:
    config = render_demo_config(demo_site.origin, tmp_path / "veille.toml")
    with config.open("a", encoding="utf-8") as fh:
        fh.write(redis_table(redis_url, redis_prefix))
    return config


@pytest.fixture
def reference(demo_site, tmp_path) -> dict:
    """The demo site crawled on one machine: what the cluster must store too."""
    config = render_demo_config(demo_site.origin, tmp_path / "single.toml")
    db = tmp_path / "single.db"
    done = veille("--config", config, "--db", db, "crawl", "--no-progress")
    assert done.returncode == 0, done.stderr
    result = record(db)
    result["hits"] = article_hits(demo_site, result["urls"])
    demo_site.reset_hits()
    return result


def record(db: Path) -> dict:
    return {
        "articles": sorted(r["canonical_url"] for r in rows(
            db, "SELECT canonical_url FROM articles")),
        "urls": sorted(r["url"] for r in rows(db, "SELECT url FROM article_urls")),
        "stories": rows(db, "SELECT count(*) AS n FROM stories")[0]["n"],
        "alerts": sorted((r["subscription_id"], r["dedup_key"].split(":")[0]) for r in rows(
            db, "SELECT subscription_id, dedup_key FROM alerts")),
        "runs": sorted((r["source_id"], r["status"]) for r in rows(
            db, "SELECT source_id, status FROM crawl_runs")),
        # Every source that listed each article, with its label (workers send listings).
        "provenance": sorted((r["canonical_url"], r["source_id"], r["topic"] or "") for r in rows(
            db, "SELECT a.canonical_url, p.source_id, p.topic FROM article_sources p "
                "JOIN articles a ON a.id = p.article_id")),
    }


def article_hits(site, urls: list[str]) -> dict[str, int]:
    return {urlsplit(u).path: site.hits[urlsplit(u).path] for u in urls
            if site.hits[urlsplit(u).path]}


def test_the_daemon_queues_two_workers_crawl_and_the_ingester_stores_each_article_once(
    demo_site, cluster_config, reference, tmp_path
):
    db = tmp_path / "cluster.db"
    with cluster_config.open("a", encoding="utf-8") as fh:
        fh.write("\n[schedule]\ndistributed = true\nevery = \"1h\"\n")
    daemon = start(cluster_config, "run", db=db)
    queued = {}
    try:
        for line in daemon.stderr:
            if match := QUEUED.search(line):
                queued[match.group(1)] = int(match.group(2))
                if len(queued) == 8:
                    break
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)
    assert len(queued) == 8 and demo_site.hits == {}, "the daemon crawled by itself"

    workers = [start(cluster_config, "worker", "--drain", "--log-level", "INFO")
               for _ in range(2)]
    ingester = start(cluster_config, "ingest", "--drain", db=db)
    for worker in workers:
        finish(worker)
    assert "36 new" in finish(ingester)

    got = record(db)
    assert got["articles"] == reference["articles"]
    assert got["urls"] == reference["urls"]
    assert got["stories"] == reference["stories"]
    assert got["alerts"] == reference["alerts"]
    assert got["runs"] == reference["runs"]
    assert got["provenance"] == reference["provenance"]
    # An article linked by a topic page, a feed and the sitemap is fetched once: on one
    # machine through fetch claims, in the cluster through the shared duplicate filter,
    # which knows URLs, not redirects (the demo's one short link that redirects to a page
    # another worker fetches may cost that page once more).
    hits = article_hits(demo_site, reference["urls"])
    assert max(reference["hits"].values()) == 1, reference["hits"]
    assert sum(hits.values()) <= sum(reference["hits"].values()) + 1, hits
    assert rows(db, "SELECT id FROM crawl_runs WHERE status = 'queued'") == []


def test_a_worker_killed_mid_crawl_loses_nothing_and_duplicates_nothing(
    demo_site, cluster_config, reference, redis_client, redis_prefix, tmp_path
):
    db = tmp_path / "cluster.db"
    finish(start(cluster_config, "queue", db=db))
    held, release = threading.Event(), threading.Event()

    def hold(path: str) -> None:
        if path == HELD:
            held.set()
            release.wait(timeout=60)

    demo_site.before_response = hold
    doomed = start(cluster_config, "worker", "--concurrency", "4")
    try:
        assert held.wait(timeout=60), "the worker never asked for the held article"
        # The killed worker holds entries it has read and not acknowledged.
        pending = redis_client.xpending(f"{redis_prefix}:requests", "workers")["pending"]
        assert pending >= 1
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.communicate(timeout=30)
    finally:
        release.set()
        if doomed.poll() is None:
            doomed.kill()
    assert doomed.returncode == -signal.SIGKILL
    demo_site.before_response = None

    survivor = start(cluster_config, "worker", "--drain")
    ingester = start(cluster_config, "ingest", "--drain", db=db)
    finish(survivor)
    finish(ingester)

    got = record(db)
    assert got["articles"] == reference["articles"]
    assert got["urls"] == reference["urls"]
    assert got["alerts"] == reference["alerts"]
    assert got["runs"] == reference["runs"]
    assert demo_site.hits[HELD] == 2  # once by the killed worker, once by the survivor


def test_an_ingester_killed_mid_stream_loses_nothing_when_it_restarts(
    demo_site, cluster_config, reference, redis_client, redis_prefix, tmp_path
):
    db = tmp_path / "cluster.db"
    finish(start(cluster_config, "queue", db=db))
    finish(start(cluster_config, "worker", "--drain"))
    backlog = redis_client.xlen(f"{redis_prefix}:articles")
    assert backlog > 36  # 36 articles, plus warnings and the end of each run

    first = start(cluster_config, "ingest", "--log-level", "INFO", db=db)
    stored = 0
    try:
        for line in first.stderr:
            stored += bool(STORED.search(line))
            if stored == 5:
                break
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert stored == 5
    assert 5 <= len(rows(db, "SELECT id FROM articles")) < 36

    finish(start(cluster_config, "ingest", "--drain", db=db))
    got = record(db)
    assert got["articles"] == reference["articles"]
    assert got["alerts"] == reference["alerts"]
    assert got["runs"] == reference["runs"]
    assert redis_client.xlen(f"{redis_prefix}:articles") == 0


def test_a_message_nobody_can_read_is_set_aside_not_lost_nor_fatal(
    cluster_config, redis_client, redis_prefix, tmp_path
):
    db = tmp_path / "cluster.db"
    finish(start(cluster_config, "queue", "--source", "levant-rss", db=db))
    redis_client.xadd(f"{redis_prefix}:articles", {"kind": "article", "run": "1",
                                                   "data": b"{not json"})
    finish(start(cluster_config, "worker", "--drain"))
    out = finish(start(cluster_config, "ingest", "--drain", db=db))
    assert "1 unreadable events set aside" in out
    (entry,) = redis_client.xrange(f"{redis_prefix}:rejected")
    assert entry[1][b"data"] == b"{not json" and b"undecodable" in entry[1][b"problem"]
    assert rows(db, "SELECT status FROM crawl_runs") == [{"status": "ok"}]


def test_a_second_ingester_is_refused(cluster_config, redis_client, redis_prefix, tmp_path):
    redis_client.set(f"{redis_prefix}:ingester", "elsewhere:1234", ex=60)
    done = veille("--config", cluster_config, "--db", tmp_path / "x.db", "ingest", "--drain")
    assert done.returncode == 1
    assert "another veille ingest (elsewhere:1234)" in done.stderr


def test_an_unreachable_redis_is_named_without_its_password(demo_site, tmp_path):
    with socket_closed_port() as port:
        config = render_demo_config(demo_site.origin, tmp_path / "veille.toml")
        with config.open("a", encoding="utf-8") as fh:
            fh.write('\n[redis]\nurl_env = "TEST_REDIS_URL"\n')
        env = {"TEST_REDIS_URL": f"redis://:hunter2@127.0.0.1:{port}/3"}
        for command in (("queue",), ("worker", "--drain"), ("ingest", "--drain")):
            done = veille("--config", config, "--db", tmp_path / "x.db", *command, env=env)
            assert done.returncode == 1, command
            assert f"Redis at 127.0.0.1:{port}/3" in done.stderr, done.stderr
            assert "hunter2" not in done.stderr + done.stdout


@contextmanager
def socket_closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that nothing listens on (bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_requests_and_articles_cross_redis_as_json_not_pickle():
    from datetime import UTC, datetime

    hint = ListingHint("http://127.0.0.1/a.html", "feed", "Soudan",
                       datetime(2026, 11, 24, 9, tzinfo=UTC), categories=("Soudan",))
    message = {"url": "http://127.0.0.1/a.html", "headers": {b"If-None-Match": [b'"x"']},
               "cb_kwargs": {"hint": hint},
               "meta": {"veille_poll": ("http://127.0.0.1/", HttpValidators("e", None, "h"))}}
    data = wire.dumps(message)
    assert wire.loads(data) == message
    assert b"pickle" not in data and data.startswith(b"{")
    with pytest.raises(wire.WireError):
        wire.loads(b'{"$dc": "Popen", "v": {}}')
    with pytest.raises(TypeError):
        wire.dumps({"x": object()})


@pytest.mark.parametrize(("table", "problem"), [
    ('[redis]\nurl = "redis://:secret@host:6379/0"\n', "url holds a password"),
    ('[redis]\nurl = "http://host"\n', "url must start with redis://"),
    ('[redis]\nurl = "redis://h"\nurl_env = "X"\n', "either url or url_env"),
    ('[redis]\nprefix = "Not ok!"\n', "prefix must be"),
    ('[redis]\nworker_timeout = "soon"\n', "worker_timeout"),
    ('[schedule]\ndistributed = true\n', "distributed = true needs a [redis] table"),
])
def test_a_wrong_redis_table_is_refused_with_its_reason(tmp_path, table, problem):
    path = tmp_path / "veille.toml"
    path.write_text(table, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_config(path)


def test_single_machine_stays_the_default(tmp_path):
    path = tmp_path / "veille.toml"
    path.write_text("", encoding="utf-8")
    config = load_config(path)
    assert config.redis is None and not config.schedule.distributed


def test_a_source_still_queued_is_not_queued_twice(cluster_config, redis_client, redis_prefix,
                                                   tmp_path):
    db = tmp_path / "cluster.db"
    first = finish(start(cluster_config, "queue", "--source", "levant-rss", db=db))
    again = finish(start(cluster_config, "queue", "--source", "levant-rss", db=db))
    assert first.strip() == "levant-rss  queued (run 1)"
    assert again.startswith("levant-rss  run 1 still queued since ")
    assert redis_client.xlen(f"{redis_prefix}:requests") == 1


def worker_and_ingester(config: Path, db: Path) -> list[subprocess.Popen]:
    """A worker and an ingester, returned once each logs that it is consuming."""
    processes = [start(config, "worker"), start(config, "ingest", "--log-level", "INFO", db=db)]
    for process in processes:
        for line in process.stderr:
            if "started on" in line or "published to Redis" in line:
                break
    return processes


def test_workers_and_the_ingester_stop_cleanly_on_sigterm(cluster_config, tmp_path):
    processes = worker_and_ingester(cluster_config, tmp_path / "cluster.db")
    for process in processes:
        process.send_signal(signal.SIGTERM)
    worker_out = finish(processes[0], timeout=60)
    ingest_out = finish(processes[1], timeout=60)
    assert worker_out == ""
    assert ingest_out.startswith("ingested 0 articles")


def test_a_run_of_a_source_the_workers_do_not_know_fails_visibly(
    cluster_config, demo_site, redis_url, redis_prefix, tmp_path
):
    db = tmp_path / "cluster.db"
    finish(start(cluster_config, "queue", "--source", "levant-rss", db=db))
    # The workers run with a config that lacks the source (machines out of step).
    stale = tmp_path / "stale.toml"
    stale.write_text(redis_table(redis_url, redis_prefix), encoding="utf-8")
    finish(start(stale, "worker", "--drain"))
    finish(start(cluster_config, "ingest", "--drain", db=db))
    (run,) = rows(db, "SELECT status, message FROM crawl_runs")
    assert run["status"] == "failed"
    assert "could not start this run" in run["message"]
    assert "no source with id 'levant-rss'" in run["message"]
    assert demo_site.hits == {}


def test_when_redis_goes_away_workers_and_the_ingester_stop_with_a_clear_message(
    demo_site, own_redis, tmp_path
):
    config = render_demo_config(demo_site.origin, tmp_path / "veille.toml")
    with config.open("a", encoding="utf-8") as fh:
        fh.write(redis_table(own_redis.url, "gone"))
    processes = worker_and_ingester(config, tmp_path / "cluster.db")
    own_redis.stop()
    for process in processes:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 1, err[-2000:]
        assert f"Redis at 127.0.0.1:{own_redis.port}/0" in err.splitlines()[-1], err[-2000:]
        assert "Traceback" not in err, err


def test_workers_share_one_delay_per_site(redis_url, redis_prefix):
    from crawler.cluster.shared import Cluster
    from crawler.config.model import RedisSettings

    cluster = Cluster.open(RedisSettings(url=redis_url, prefix=redis_prefix))
    # Five requests to one site, reserved at once (as five workers would): each waits one
    # more delay than the one before; another site is not held up by them.
    # A one-minute delay, so that the time the calls themselves take (a loaded machine
    # may stall for a second) cannot blur the figures.
    waits = [cluster.reserve("news.example:80", 60.0) for _ in range(5)]
    other = cluster.reserve("other.example:80", 60.0)
    assert [round(w / 10) * 10 for w in waits] == [0, 60, 120, 180, 240]
    assert all(0 < w2 - w1 <= 60.0 for w1, w2 in zip(waits, waits[1:], strict=False))
    assert other == 0


def test_a_worker_spaces_its_requests_to_a_site_by_the_shared_delay(
    demo_site, tmp_path, redis_url, redis_prefix
):
    import time

    config = render_demo_config(demo_site.origin, tmp_path / "veille.toml")
    with config.open("a", encoding="utf-8") as fh:
        fh.write(redis_table(redis_url, redis_prefix))
    arrivals = []
    demo_site.before_response = lambda path: arrivals.append(time.monotonic())
    db = tmp_path / "cluster.db"
    finish(start(config, "queue", "--source", "levant-karabakh", "--source", "levant-rss",
                 db=db))
    workers = [start(config, "worker", "--drain") for _ in range(2)]
    for worker in workers:
        finish(worker)
    assert len(arrivals) > 10
    # The demo's download_delay is 0.05 s: two workers together send the site no more than
    # one request per 0.05 s (each alone would space only its own: twice the rate). The
    # moments are reserved in Redis; 0.1 s allows for the first request's own latency.
    span = arrivals[-1] - arrivals[0]
    assert span >= (len(arrivals) - 1) * 0.05 - 0.1, (len(arrivals), span)


def test_cron_mode_queues_the_due_sources_when_distributed(cluster_config, redis_client,
                                                           redis_prefix, tmp_path):
    db = tmp_path / "cluster.db"
    with cluster_config.open("a", encoding="utf-8") as fh:
        fh.write("\n[schedule]\ndistributed = true\nevery = \"1h\"\n")
    first = veille("--config", cluster_config, "--db", db, "crawl", "--due")
    assert first.returncode == 0, first.stderr
    assert len(re.findall(r"  queued \(run \d+\)", first.stdout)) == 8
    assert redis_client.xlen(f"{redis_prefix}:requests") == 8
    again = veille("--config", cluster_config, "--db", db, "crawl", "--due")
    assert again.returncode == 0 and again.stdout.strip() == "no source is due"
    assert rows(db, "SELECT count(*) AS n FROM crawl_runs WHERE status = 'queued'") == [
        {"n": 8}]


def test_an_article_a_worker_pipeline_fails_on_is_recorded_against_its_run(
    cluster_config, redis_client, redis_prefix
):
    from scrapy.http import HtmlResponse, Request
    from twisted.python.failure import Failure

    from crawler.cluster.worker import WorkerSpider

    spider = WorkerSpider(load_config(cluster_config), consumer="unit")
    request = Request("http://127.0.0.1/a.html",
                      meta={"veille_source": "levant-rss", "veille_run": 7})
    response = HtmlResponse(request.url, body=b"<html></html>", request=request)
    spider.item_failed(object(), response, Failure(ValueError("no body")))
    ((_, fields),) = redis_client.xrange(f"{redis_prefix}:articles")
    error = wire.loads(fields[b"data"])
    assert fields[b"kind"] == b"error" and fields[b"run"] == b"7"
    assert (error.source_id, error.kind) == ("levant-rss", "pipeline")
    assert error.message == "could not process the article: ValueError: no body"


def test_an_ingester_that_cannot_write_the_database_says_so_and_keeps_the_events(
    cluster_config, redis_client, redis_prefix, tmp_path
):
    finish(start(cluster_config, "queue", "--source", "levant-rss", db=tmp_path / "ok.db"))
    finish(start(cluster_config, "worker", "--drain"))
    backlog = redis_client.xlen(f"{redis_prefix}:articles")
    # A directory where the database file should be: refused before anything is read
    # from Redis (a bad --db, exit status 2), so every event waits for the next ingester.
    done = veille("--config", cluster_config, "--db", tmp_path, "ingest", "--drain")
    assert done.returncode == 2
    assert done.stderr == f"Error: {tmp_path}: is a directory, not a database\n"
    assert "Traceback" not in done.stderr
    assert redis_client.xlen(f"{redis_prefix}:articles") == backlog > 0


def test_what_a_worker_prepares_stores_exactly_what_the_ingester_would_compute(tmp_path):
    from conftest import Clock
    from test_storage import BODY, article

    from crawler.config.model import Conflict, Source
    from crawler.page.matching import Matcher
    from crawler.record.outbox import Outbox, sync_alerting
    from crawler.record.store import Store, TextAnalysis
    from crawler.record.stories import StoryIndex

    talks = Conflict("talks", "Talks", ("ceasefire",))
    other = Conflict("other", "Other", ("negotiators",))
    first = article()
    update = article(body=BODY + " " + " ".join(f"New fact{i} reported." for i in range(40)))

    def stored(name: str, prepare: Matcher | None) -> list:
        store = Store.open(tmp_path / f"{name}.db", Clock(), outbox=Outbox([talks], []),
                           stories=StoryIndex())
        store.sync_sources([Source(id="s1", name="S", kind="topic",
                                   url="https://news.example/")])
        sync_alerting(store.db, [talks], [], store.now())
        for version in (first, update):
            # Through Redis, as the ingester receives it.
            analysis = (wire.loads(wire.dumps(TextAnalysis.of(version, prepare)))
                        if prepare else None)
            store.save_article(version, analysis)
        tables = [list(store.db.query(f"SELECT * FROM {t} ORDER BY 1"))
                  for t in ("article_conflicts", "article_fingerprints", "story_bands",
                            "stories")]
        store.close()
        return tables

    computed = stored("computed", None)
    assert computed[0] and computed[1] and computed[2]  # matched, fingerprinted, banded
    assert stored("analysed", Matcher([talks])) == computed
    # Matches found under other conflicts (a worker with an older config) are not used:
    # the ingester matches again, under its own.
    assert stored("stale", Matcher([other])) == computed


def test_an_articles_warnings_reach_the_ingester_with_its_run(
    cluster_config, redis_client, redis_prefix, tmp_path
):
    """What a single-machine crawl records about an article's defects (the extraction's
    warnings, "no article text"), a worker sends and the ingester records, in its run."""
    import dataclasses
    from types import SimpleNamespace

    from scrapy.utils.test import get_crawler

    from crawler.cluster.ingest import Ingester
    from crawler.cluster.worker import StreamPipeline, WorkerSpider
    from crawler.crawl.items import ArticleItem, NormalizedArticle
    from crawler.crawl.normalize import normalize_article
    from crawler.page.extract import extract_article
    from crawler.record.store import Store

    config = load_config(cluster_config)
    db = tmp_path / "cluster.db"
    with Store.open(db) as store:
        store.sync_sources(config.sources)
        run_id = store.queue_run("levant-rss")
    spider = WorkerSpider(config, consumer="unit")
    url = "http://127.0.0.1/levant/2026/11/22/video.html"
    page = ("<html><head><title>Video: the convoy at dawn</title></head><body><article>"
            "<h1>Video: the convoy at dawn</h1><p>The first convoy crosses the bridge.</p>"
            "</article></body></html>")
    extracted = dataclasses.replace(extract_article(page, url),
                                    warnings=("broken JSON-LD: Expecting ',' delimiter",))
    fetched = ArticleItem("levant-rss", ListingHint(url, "feed"), url, (), extracted,
                          run_id=run_id)
    item = NormalizedArticle(normalize_article(fetched, ("127.0.0.1",)), fetched)
    pipeline = StreamPipeline(SimpleNamespace(spider=spider, stats=get_crawler().stats))
    assert pipeline.process_item(item) is item
    events = redis_client.xrange(f"{redis_prefix}:articles")
    assert [(f[b"kind"], f[b"run"]) for _, f in events] == [
        (b"article", str(run_id).encode()), (b"error", str(run_id).encode()),
        (b"error", str(run_id).encode())]

    ingester = Ingester(config, db, spider.cluster)
    with Store.open(db) as store:
        for entry_id, fields in events:
            ingester.handle(store, entry_id.decode(), fields)
        ingester.finish_run(store, run_id, {"requests": 1})
    assert rows(db, "SELECT run_id, url, level, kind FROM fetch_errors ORDER BY id") == [
        {"run_id": run_id, "url": url, "level": "warning", "kind": "extract"},
        {"run_id": run_id, "url": url, "level": "warning", "kind": "no-text"}]
    [run] = rows(db, "SELECT status, new, warnings, errors FROM crawl_runs")
    assert run == {"status": "ok", "new": 1, "warnings": 2, "errors": 0}


def test_a_queued_request_is_reported_queued_to_scrapy():
    """`StreamScheduler.enqueue_request` answers True for a request it queued (Scrapy
    fires `request_dropped` for any other answer) and counts it; False for a repeat."""
    from types import SimpleNamespace

    from scrapy import Request
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    from crawler.cluster.request_stream import StreamScheduler

    pushed, seen = [], set()
    scheduler = StreamScheduler.__new__(StreamScheduler)
    scheduler.spider = SimpleNamespace(broken=None, acknowledge_entry=lambda *a: None)
    scheduler.queue = SimpleNamespace(push=pushed.append)
    scheduler.df = SimpleNamespace(
        request_seen=lambda r: r.url in seen or seen.add(r.url), log=lambda *a: None)
    scheduler.stats = MemoryStatsCollector(get_crawler())
    assert scheduler.enqueue_request(Request("http://127.0.0.1/a.html")) is True
    assert scheduler.enqueue_request(Request("http://127.0.0.1/a.html")) is False
    assert len(pushed) == 1
    assert scheduler.stats.get_value("scheduler/enqueued/redis") == 1


def test_a_worker_whose_crawl_cannot_start_says_so_and_exits_1(cluster_config):
    """A component that fails to set up (here the robots.txt middleware) stops the crawl
    before it takes any request: the worker says so and exits 1, not 0."""
    script = (
        "import crawler.cluster.worker as w\n"
        "def broken(self, crawler):\n"
        "    raise RuntimeError('robots.txt middleware broken for the test')\n"
        "w.SharedRobotsTxtMiddleware.__init__ = broken\n"
        "from crawler.cli import main\n"
        "main()\n")
    done = subprocess.run(
        [sys.executable, "-c", script, "--config", str(cluster_config), "worker", "--drain"],
        capture_output=True, text=True, timeout=60, cwd=PROJECT)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "veille worker: the crawl did not start" in done.stderr


def test_the_ingester_runs_the_breakage_checks_on_a_workers_run(
        cluster_config, demo_site, tmp_path):
    """A topic page whose links vanish, crawled by a worker: the ingester, which closes the
    run, finds it broken (no-links) from the run's rows, once, and recovered when the
    links come back (docs/operating.md)."""
    db = tmp_path / "cluster.db"

    def poll() -> dict:
        finish(start(cluster_config, "queue", "--source", "levant-karabakh", db=db))
        finish(start(cluster_config, "worker", "--drain"))
        finish(start(cluster_config, "ingest", "--drain", db=db))
        return rows(db, "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]

    def events() -> list[tuple[str, str]]:
        return [(e["kind"], json.loads(e["evidence"])["check"]) for e in rows(
            db, "SELECT kind, evidence FROM source_events WHERE kind != 'gap' ORDER BY id")]

    assert poll()["status"] == "ok" and events() == []
    demo_site.overrides["/levant/dernieres-infos/karabakh/"] = (
        200, {"Content-Type": "text/html"},
        b"<html><body><main><p>Nos articles ont change d'adresse.</p></main></body></html>")
    assert poll()["status"] == "failed"
    assert events() == [("broken", "no-links")]
    [source] = rows(db, "SELECT broken_check FROM sources WHERE id = 'levant-karabakh'")
    assert source["broken_check"] == "no-links"
    assert poll()["status"] == "failed" and len(events()) == 1  # still broken: nothing new
    del demo_site.overrides["/levant/dernieres-infos/karabakh/"]
    assert poll()["status"] == "ok"
    assert events() == [("broken", "no-links"), ("recovered", "no-links")]
