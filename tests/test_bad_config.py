"""Bad configuration: every number outside its range in `RANGES`, and every bad file,
directory or database given to `veille`, is a one-line error with exit status 2."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from conftest import PROJECT, veille

from crawler.config import model as config_module
from crawler.config import subscriptions
from crawler.config.model import load_config
from crawler.config.validation import RANGES, Range
from crawler.errors import ConfigError

BASE = """
[[source]]
id = "feed"
kind = "feed"
url = "http://127.0.0.1:9/feed.xml"

[[conflict]]
id = "karabakh"
aliases = ["Karabakh"]
"""
CHANNELS = {
    "webhook": 'url = "https://hooks.example/veille"\n',
    "email": 'host = "smtp.example.org"\nsender = "v@example.org"\nto = ["desk@example.org"]\n',
    "feed": "",
}


def document(name: str, value: str) -> str:
    """A valid configuration but for `name` ("crawl.timeout") set to `value` (TOML)."""
    table, _, key = name.partition(".")
    line = f"{key.rpartition('.')[2]} = {value}\n"
    if table == "source":
        adaptive = "adaptive = true\n" if key in ("min_every", "max_every") else ""
        return (BASE + '\n[[source]]\nid = "topic"\nkind = "topic"\n'
                f'url = "http://127.0.0.1:9/"\n{adaptive}{line}')
    if table == "subscription":
        channel, _, key = key.rpartition(".")
        digest = "" if channel else f'mode = "digest"\n{line}'
        return (BASE + f'\n[[subscription]]\nid = "desk"\nconflicts = ["karabakh"]\n{digest}'
                f"[subscription.{channel or 'feed'}]\n{CHANNELS[channel or 'feed']}"
                + (line if channel else ""))
    if table == "redis":
        return BASE + f'\n[redis]\nurl = "redis://127.0.0.1:6379/0"\n{line}'
    return BASE + f"\n[{table}]\n{line}"


def written(allowed: Range, value: float) -> str:
    """`value` as the file gives it: durations as "<n>s"."""
    return f'"{int(value)}s"' if allowed.unit == "duration" else repr(value)


def load(tmp_path: Path, text: str):
    path = tmp_path / "veille.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_every_number_of_the_config_has_a_range():
    schemas = {
        "crawl": config_module._CRAWL_KEYS, "source": config_module._SOURCE_KEYS,
        "schedule": config_module._SCHEDULE_KEYS, "stories": config_module._STORY_KEYS,
        "redis": config_module._REDIS_KEYS, "alerts": subscriptions._ALERT_KEYS,
        "subscription": subscriptions._SUBSCRIPTION_KEYS,
        "subscription.webhook": subscriptions._WEBHOOK_KEYS,
        "subscription.email": subscriptions._EMAIL_KEYS,
        "subscription.feed": subscriptions._FEED_KEYS,
        "subscription.apprise": subscriptions._APPRISE_KEYS,
    }
    numbers = {
        f"{table}.{key}"
        for table, schema in schemas.items() for key, expected in schema.items()
        if int in (expected if isinstance(expected, tuple) else (expected,))
    }
    assert numbers == set(RANGES)


@pytest.mark.parametrize("name", sorted(RANGES))
def test_each_range_is_what_loading_checks(tmp_path, name):
    allowed = RANGES[name]
    for bound in (allowed.low, allowed.high):
        load(tmp_path, document(name, written(allowed, bound)))
    if allowed.zero:
        load(tmp_path, document(name, "0"))
    step = 1 if allowed.high > 1 else 0.005
    outside = [allowed.high + step]
    if allowed.unit != "duration" or allowed.low - step > 0:  # else parse_duration's own check
        outside.append(allowed.low - step)
    for value in outside:
        with pytest.raises(ConfigError) as error:
            load(tmp_path, document(name, written(allowed, value)))
        message = str(error.value)
        key = name.rpartition(".")[2]
        assert message.startswith(f"{tmp_path / 'veille.toml'}: ") and "\n" not in message
        assert message.endswith(
            f"{key} = {written(allowed, value)}: must be {allowed.describe('between {} and {}')}")


@pytest.mark.parametrize(("line", "message"), [
    ("concurrency_per_domain = 0", "concurrency_per_domain = 0: must be between 1 and 64"),
    ("max_response_kb = 0", "max_response_kb = 0: must be between 16 and 1048576 KB"),
    ("max_response_kb = -1", "max_response_kb = -1: must be between 16 and 1048576 KB"),
    ("timeout = -5", "timeout = -5: must be between 1 and 600 s"),
    ("retries = -1", "retries = -1: must be between 0 and 10"),
    ("download_delay = -0.5", "download_delay = -0.5: must be between 0 and 60 s"),
    ("timeout = nan", "timeout = nan: must be between 1 and 600 s"),
    ("timeout = inf", "timeout = inf: must be between 1 and 600 s"),
    ('keep_pages = "99999999999d"', "keep_pages: '99999999999d' is too long a duration"),
])
def test_the_crawl_values_that_hung_or_disabled_a_limit_are_refused(tmp_path, line, message):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, f"[crawl]\n{line}\n" + BASE)
    assert str(error.value) == f"{tmp_path / 'veille.toml'}: [crawl]: {message}"


def test_zero_keeps_its_documented_meaning(tmp_path):
    config = load(tmp_path, '[crawl]\ndownload_delay = 0\nretries = 0\nretry_backoff = 0\n'
                  'keep_pages = 0\n[schedule]\njitter = 0\n'
                  + BASE.replace('kind = "feed"', 'kind = "sitemap"\nmax_age_days = 0'))
    assert (config.crawl.download_delay, config.crawl.retries, config.crawl.keep_pages_seconds,
            config.schedule.jitter_seconds, config.sources[0].max_age_days) == (0, 0, 0, 0, 0)


def readme_ranges() -> dict[str, str]:
    """The configuration reference (docs/configuration.md): the range shown beside each
    "table.key"."""
    section = (PROJECT / "docs" / "configuration.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `([a-z_]+(?:\.[a-z_]+)+)` \| ([^|]+?) \|", section, re.M))


def test_readme_shows_the_ranges_the_code_checks():
    shown = readme_ranges()
    missing = [f"| `{name}` | {allowed} | {allowed.note} |"
               for name, allowed in RANGES.items() if shown.get(name) != str(allowed)]
    assert not missing, "docs/configuration.md lacks or contradicts:\n" + "\n".join(missing)
    assert set(shown) <= set(RANGES), "docs/configuration.md shows ranges the code does not check"


# Each bad file the hostile-input pass gave `veille`, and what the message must say.
def random_database(path: Path) -> Path:
    path.write_bytes(random.Random(15).randbytes(8192))
    return path


def truncated_database(path: Path, keep: int) -> Path:
    assert veille("--config", good_config(path.parent), "--db", path, "init").returncode == 0
    path.write_bytes(path.read_bytes()[:keep])
    return path


def good_config(folder: Path) -> Path:
    path = folder / "good.toml"
    path.write_text(BASE, encoding="utf-8")
    return path


BAD_CONFIGS = {
    "non-utf8": (lambda d: write_bytes(d / "v.toml", b'[crawl]\nuser_agent = "caf\xe9"\n'),
                 "not UTF-8 text (byte 0xe9 at offset 25)"),
    "invalid-toml": (lambda d: write_bytes(d / "v.toml", b"[crawl\n"), "not valid TOML"),
    "directory": (lambda d: d, "is a directory, not a configuration file"),
    "dev-zero": (lambda d: Path("/dev/zero"), "is not a regular file"),
    "missing": (lambda d: d / "nope.toml", "no such configuration file"),
    "ipv6-url": (lambda d: write_bytes(d / "v.toml", BASE.replace(
        "http://127.0.0.1:9/feed.xml", "http://[::1").encode()),
        "source 'feed': url 'http://[::1' is not a valid URL (Invalid IPv6 URL)"),
    "port": (lambda d: write_bytes(d / "v.toml", BASE.replace(":9/", ":99999/").encode()),
             "source 'feed': url 'http://127.0.0.1:99999/feed.xml' has an invalid port"),
    "nested": (lambda d: write_bytes(d / "v.toml", b"a = " + b"[" * 5000 + b"]" * 5000),
               "not valid TOML: arrays or tables nested too deeply"),
    "nul-encoding": (lambda d: write_bytes(d / "v.toml", BASE.replace(
        'kind = "feed"', 'kind = "feed"\nencoding = "\\u0000"').encode()),
        "source 'feed': unknown encoding '\\x00'"),
    "range": (lambda d: write_bytes(d / "v.toml", b"[crawl]\nconcurrency_per_domain = 0\n"),
              "[crawl]: concurrency_per_domain = 0: must be between 1 and 64"),
}
BAD_DATABASES = {
    "directory": (lambda d: d, "is a directory, not a database"),
    "dev-zero": (lambda d: Path("/dev/zero"), "is not a regular file, so not a database"),
    "random": (lambda d: random_database(d / "v.db"), "file is not a database"),
    "truncated-header": (lambda d: truncated_database(d / "v.db", 50), "file is not a database"),
    "truncated": (lambda d: truncated_database(d / "v.db", 8192),
                  "database disk image is malformed"),
}


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def assert_one_line_error(result, path: Path, problem: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: {path}: ") and problem in result.stderr


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path, case):
    make, problem = BAD_CONFIGS[case]
    path = make(tmp_path)
    result = veille("--config", path, "--db", tmp_path / "v.db", "sources")
    assert_one_line_error(result, path, problem)


@pytest.mark.parametrize("command", [("sources",), ("crawl", "--no-progress"), ("alerts",)])
@pytest.mark.parametrize("case", sorted(BAD_DATABASES))
def test_a_bad_database_is_one_line_and_exit_2(tmp_path, case, command):
    make, problem = BAD_DATABASES[case]
    path = make(tmp_path)
    result = veille("--config", good_config(tmp_path), "--db", path, *command)
    assert_one_line_error(result, path, problem)
