"""Veille as a user installs it: a wheel built from this checkout (`pip wheel`, no
network), installed in a fresh virtual environment, run from a folder outside the
checkout. The environment sees the dependencies already installed (system site packages),
but Veille itself only from the wheel."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest
from conftest import PROJECT, serving

# What the wheel is built from: the files a source distribution would hold.
SOURCES = ("pyproject.toml", "README.md", "crawler", "spiders", "scheduler", "data")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin` folder of a virtual environment with the wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        subprocess.run(["cp", "-r", PROJECT / name, src / name], check=True)
    dist = root / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
         "--no-index", "-q", "-w", dist, src], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    [wheel] = dist.glob("veille-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
    install = subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q",
                              "--no-deps", "--no-index", wheel], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    return venv / "bin"


def test_the_wheel_runs_the_demo_from_any_folder(installed, tmp_path):
    where = subprocess.run(
        [installed / "python", "-c", "import crawler; print(crawler.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(installed.parent) in where and str(PROJECT) not in where  # the wheel's copy
    demo = subprocess.run([installed / "veille", "demo", "-o", "out"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    assert "Browse it in Datasette" in demo.stdout
    assert (tmp_path / "out" / "veille.db").is_file()
    # The Datasette pages (metadata, templates, stylesheet) come from the wheel too.
    with serving("--db", tmp_path / "out" / "veille.db", "serve", "--port", "0",
                 command=(installed / "veille",), cwd=tmp_path) as (_, url):
        origin = url.split("/veille")[0]  # it serves the record at ORIGIN/veille
        page = urllib.request.urlopen(origin + "/veille", timeout=30).read().decode()
        css = urllib.request.urlopen(origin + "/veille-static/desk.css", timeout=30).read()
    assert "Veille news record" in page and "desk.css" in page
    assert css == (PROJECT / "data" / "datasette" / "static" / "desk.css").read_bytes()


def test_init_from_the_wheel_writes_the_shipped_starter(installed, tmp_path):
    result = subprocess.run([installed / "veille", "init"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "veille.toml").read_bytes() == \
        (PROJECT / "data" / "veille.toml").read_bytes()


def test_every_package_is_in_the_wheel():
    """pyproject.toml lists the packages (the shipped data is mapped into one of them): a
    new subpackage left out of that list would be missing from the wheel."""
    listed = set(tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]
                 ["setuptools"]["packages"])
    found = {".".join(path.parent.relative_to(PROJECT).parts)
             for top in ("crawler", "spiders", "scheduler")
             for path in (PROJECT / top).rglob("__init__.py")}
    assert found <= listed and listed - found == {"crawler.data"}
