"""The configuration: what loads, and the message a bad file gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config.model import (
    DEFAULT_CONFIG,
    SHIPPED_CONFIG,
    Source,
    config_path,
    load_config,
)
from crawler.errors import ConfigError

GOOD = """
[crawl]
user_agent = "Test/1"
download_delay = 0

[[source]]
id = "olj-karabakh"
name = "L'Orient-Le Jour: Nagorny Karabakh"
kind = "topic"
url = "https://www.lorientlejour.com/cat/dernieres-infos"
topic = "Nagorny Karabakh"
max_pages = 2
links = "article.item h2 a"
next = "a.next"
selectors = { body = "div.article-body p", authors = ".byline a" }
timezone = "Asia/Beirut"

[[source]]
id = "olj-rss"
kind = "feed"
url = "https://www.lorientlejour.com/rss"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "veille.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_is_typed_and_frozen(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    karabakh = config.source("olj-karabakh")
    assert isinstance(karabakh, Source)
    assert karabakh.max_pages == 2 and karabakh.selectors["body"] == "div.article-body p"
    assert karabakh.domains == ("www.lorientlejour.com",)
    assert config.source("olj-rss").name == "olj-rss"  # name defaults to the id
    assert config.crawl.user_agent == "Test/1" and config.crawl.download_delay == 0
    with pytest.raises(AttributeError):
        karabakh.url = "https://elsewhere.example/"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('max_pages = 2', 'max_pages = 2\ncolour = "red"'),
         "source 'olj-karabakh': unknown key 'colour'"),
        (lambda t: t.replace('url = "https://www.lorientlejour.com/rss"\n', ''),
         "source 'olj-rss': missing 'url'"),
        (lambda t: t.replace('id = "olj-rss"', 'id = "olj-karabakh"'),
         "source 'olj-karabakh': duplicate id"),
        (lambda t: t.replace('"article.item h2 a"', '"article..item[["'),
         "source 'olj-karabakh': links: bad CSS selector"),
        (lambda t: t.replace('".byline a"', '"p >> > a"'),
         "source 'olj-karabakh': selectors.authors: bad CSS selector"),
        (lambda t: t.replace('body = "div', 'bodytext = "div'),
         "selectors.bodytext is not a field"),
        (lambda t: t.replace('kind = "feed"', 'kind = "podcast"'),
         "source 'olj-rss': kind 'podcast' is not one of topic, feed, sitemap"),
        (lambda t: t.replace('"https://www.lorientlejour.com/rss"', '"www.lorientlejour.com/rss"'),
         "is not an absolute http(s) URL"),
        (lambda t: t.replace('"Asia/Beirut"', '"Asia/Atlantis"'), "unknown time zone"),
        (lambda t: t.replace("max_pages = 2", "max_pages = true"), "max_pages must be an integer"),
        (lambda t: t.replace("max_pages = 2", "max_pages = 0"), "max_pages = 0: must be between 1 and 100"),
        (lambda t: t.replace('kind = "feed"', 'kind = "feed"\nmax_pages = 3'),
         "'max_pages' only applies to kind = \"topic\""),
        (lambda t: t + "\n[[sauce]]\nid = 'x'\n", "unknown table or key 'sauce'"),
        (lambda t: t.replace('user_agent = "Test/1"', 'user_agent = "Test/1'), "not valid TOML"),
    ],
)
def test_bad_config_names_file_source_and_problem(tmp_path, change, message):
    path = write(tmp_path, change(GOOD))
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(path) in str(excinfo.value)
    assert message in str(excinfo.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "nope.toml")


def test_environment_names_the_config(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("VEILLE_CONFIG", str(path))
    assert config_path() == path
    assert config_path(tmp_path / "other.toml") == tmp_path / "other.toml"
    monkeypatch.delenv("VEILLE_CONFIG")
    assert config_path() == DEFAULT_CONFIG


def test_shipped_config_loads():
    config = load_config(SHIPPED_CONFIG)
    ids = [s.id for s in config.sources]
    assert "olj-karabakh" in ids and "olj-rss" in ids
    assert {s.kind for s in config.sources} >= {"topic", "feed"}
    assert {s.language for s in config.sources} >= {"fr", "en"}


def test_demo_config_loads(demo_config):
    config = load_config(demo_config)
    assert {s.kind for s in config.sources} == {"topic", "feed", "sitemap"}
    assert all(s.url.startswith("http://127.0.0.1:") for s in config.sources)
