"""A new user's first commands, run from an empty folder: `veille init` writes a starter
configuration and never overwrites one, files default to the current folder's data/, a
missing configuration says how to make one, and a mistyped folder is not created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crawler.config.model import SHIPPED_CONFIG, load_config


def veille_in(folder: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`veille` run from `folder`, with no $VEILLE_CONFIG or $VEILLE_DB."""
    env = {k: v for k, v in os.environ.items() if k not in ("VEILLE_CONFIG", "VEILLE_DB")}
    return subprocess.run([sys.executable, "-m", "crawler", *map(str, args)], cwd=folder,
                          capture_output=True, text=True, timeout=120, env=env)


def test_init_writes_a_starter_config_in_the_current_folder(tmp_path):
    result = veille_in(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    config = tmp_path / "data" / "veille.toml"
    assert config.read_bytes() == SHIPPED_CONFIG.read_bytes()
    assert (tmp_path / "data" / "veille.db").is_file()
    assert "starter configuration written" in result.stdout
    assert f"{len(load_config(config).sources)} sources from data/veille.toml" in result.stdout
    # The record and config are the folder's own: `sources` lists the starter's sources.
    listed = veille_in(tmp_path, "sources", "--csv")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].startswith("olj-karabakh,topic,")


def test_init_never_overwrites_a_config(tmp_path):
    (tmp_path / "data").mkdir()
    mine = tmp_path / "data" / "veille.toml"
    mine.write_text("# my newsroom's sources\n", encoding="utf-8")
    result = veille_in(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    assert "never overwritten" in result.stdout
    assert mine.read_text(encoding="utf-8") == "# my newsroom's sources\n"
    assert "0 sources from data/veille.toml" in result.stdout


def test_a_missing_config_says_how_to_make_one(tmp_path):
    result = veille_in(tmp_path, "sources")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: data/veille.toml: no such configuration file: `veille init` writes a "
        "starter one there, or pass --config FILE (or set $VEILLE_CONFIG)")
    assert not (tmp_path / "data").exists()  # a listing creates nothing


def test_a_file_in_a_missing_folder_is_refused_not_created(tmp_path):
    missing = tmp_path / "nonexistent"
    result = veille_in(tmp_path, "--db", missing / "x.db", "init")
    assert result.returncode == 2
    assert f"{missing / 'x.db'}: folder {missing} does not exist" in result.stderr
    assert not missing.exists()
    config = veille_in(tmp_path, "--config", missing / "v.toml", "init")
    assert config.returncode == 2 and "does not exist" in config.stderr
    assert not missing.exists()
