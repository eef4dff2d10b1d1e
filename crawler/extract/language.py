"""The article's language: declared (html lang, og:locale, JSON-LD) or detected."""

from __future__ import annotations

import functools
import json
import logging
import mmap
import os
import re
import shutil
import tempfile
from array import array
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
from py3langid.modelio import load_model

LOGGER = logging.getLogger(__name__)

_LANGUAGE_RE = re.compile(r"^([a-z]{2})(?:[-_]|$)", re.IGNORECASE)
_MIN_DETECTION_CHARS = 40
# Bump when the layout of the files below changes.
_LAYOUT = 1


def language_code(value: str | None) -> str | None:
    match = _LANGUAGE_RE.match(value.strip()) if value else None
    return match.group(1).lower() if match else None


def detect_language(text: str) -> str | None:
    if len(text) < _MIN_DETECTION_CHARS:
        return None
    language, _score = identifier().classify(text[:5000])
    return language_code(language)


@functools.cache
def identifier() -> LanguageIdentifier:
    """py3langid's classifier (the one `py3langid.classify` uses), on its model as
    uncompressed files mapped into memory.

    py3langid ships its model xz-compressed: loading it costs every process 0.6 s of CPU
    and a 100 MB peak, for the first page that declares no language. The uncompressed
    copy is written once per machine (in the user's cache folder, `$XDG_CACHE_HOME/veille`)
    and read from there; its pages are shared by the crawl processes that map it. Where
    that folder cannot be written, the model is loaded the usual way.
    """
    model = MODEL_DIR / MODEL_FILE
    stat = model.stat()
    folder = cache_root() / (f"py3langid-{version('py3langid')}-{stat.st_size}-"
                             f"{stat.st_mtime_ns}-l{_LAYOUT}")
    try:
        if not folder.is_dir():
            _write_model(model, folder)
        return _mapped_model(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        LOGGER.debug("language model not cached in %s (%s): loading it in memory", folder, exc)
        return LanguageIdentifier.from_model_file(model)


def cache_root() -> Path:
    """Where Veille keeps what it computes once per machine."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "veille"


def _write_model(model: Path, folder: Path) -> None:
    """The model's arrays as raw files in `folder`, written beside it and renamed into
    place, so that a process never maps a half-written copy."""
    ptc, pc, classes, nextmove, row, output = load_model(model)
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        np.ascontiguousarray(ptc).tofile(partial / "ptc.bin")
        np.ascontiguousarray(pc, dtype=np.float32).tofile(partial / "pc.bin")
        for name, values in (("nextmove", nextmove), ("row", row),
                             ("output", array("i", output))):
            with open(partial / f"{name}.bin", "wb") as fh:
                values.tofile(fh)
        (partial / "model.json").write_text(json.dumps({
            "ptc": [str(ptc.dtype), list(ptc.shape)], "classes": list(classes),
            "nextmove": nextmove.typecode, "row": row.typecode,
        }))
        os.rename(partial, folder)
    except OSError:
        if folder.is_dir():  # another process wrote it first
            return
        raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _mapped_model(folder: Path) -> LanguageIdentifier:
    meta = json.loads((folder / "model.json").read_text())
    dtype, shape = meta["ptc"]
    ptc = np.frombuffer(_map(folder / "ptc.bin"), dtype=dtype).reshape(shape)
    pc = np.fromfile(folder / "pc.bin", dtype=np.float32)
    return LanguageIdentifier(
        ptc, pc, meta["classes"], _map(folder / "nextmove.bin").cast(meta["nextmove"]),
        _map(folder / "output.bin").cast("i"), tk_row=_map(folder / "row.bin").cast(meta["row"]),
    )


def _map(path: Path) -> Any:
    """A read-only memoryview of a whole file, mapped (pages read as they are touched)."""
    with open(path, "rb") as fh:
        return memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
