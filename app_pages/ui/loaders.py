"""Cached loaders: what is loaded (files only), the corpus index, the model and the Explorer.

All model/index logic lives in ``clac_core.inference``; this module caches and reports.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from app_pages.ui.display import md_escape
from app_pages.ui.map_frame import map_frame
from app_pages.ui.session import current_index_dir
from clac_core.inference import (
    CorpusIndex,
    Explorer,
    analyse_upload,
    default_checkpoint,
    default_index,
    docs_info,
    index_stamp,
    load_model,
    loaded_info,
    open_index,
    property_columns,
)

# Loading is split so that each page pays only for what it uses: Home and the sidebar read
# JSON files (no torch), the 3D viewer needs the index only, and the pages that embed text or
# crystals need the model (torch and the weights, 2-3 s on 2 cores). So that nobody waits for
# it on their first search, :func:`warm_up` (called by app.py on every run; a cache hit after
# the first) starts loading the default model and index once per process in a background
# thread (then the columns the first property-aware search reads, the first results page's
# imports and the map's points); the loaders below wait for that load instead of starting
# their own (issue 19).
# CLAC_PRELOAD=0 turns the warm-up off (the loaders then load on first use, as before).
if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clac-preload")


def _preload_off() -> bool:
    return os.environ.get("CLAC_PRELOAD", "1") == "0"


def _wait(future: Future, cache: Any) -> Any:
    """The result of a background load; a failed load is forgotten (so the next run retries)
    and its error raised here, where the page shows it."""
    try:
        return future.result()
    except Exception:
        cache.clear()
        raise


@st.cache_resource(show_spinner=False)
def _model_future(checkpoint: str) -> Future:
    return _POOL.submit(load_model, checkpoint)


def _open_for_search(index_dir: str) -> CorpusIndex:
    index = open_index(index_dir)
    property_columns(index)  # computed once per index (~0.8 s), so the first search reuses it
    return index


@st.cache_resource(show_spinner=False)
def _index_future(index_dir: str, stamp: str) -> Future:
    return _POOL.submit(_open_for_search, index_dir)


def _import_result_modules() -> None:
    """Imports the first results page needs besides the model and index: pymatgen's Structure
    (the selected crystal). Done on the preload thread, so the first search does not pay for it.
    (The result tables no longer use pandas' Styler, ~0.7 s of imports on 2 cores.)"""
    import pymatgen.core  # noqa: F401


@st.cache_resource(show_spinner=False)
def _imports_future() -> Future:
    return _POOL.submit(_import_result_modules)


@st.cache_resource(show_spinner=False)
def _map_future(index_dir: str, stamp: str) -> Future:
    index = _index_future(index_dir, stamp)  # queued before it
    return _POOL.submit(lambda: map_frame(index.result(), index_dir))


def warm_up() -> None:
    """Start loading the default model and the selected index in the background (once per
    process and index), unless CLAC_PRELOAD=0. Returns at once; never raises (a failed load
    is reported by the page that needs it)."""
    if _preload_off():
        return
    try:
        _warm(current_index_dir())
    except Exception:  # a missing checkpoint or index: the page that needs it says so
        return


def warm_up_at_start() -> None:
    """:func:`warm_up` for the default index, called once when the server starts (app.py's
    ASGI lifespan), before any browser has connected: the load then overlaps the server's start
    and the browser's first page load instead of starting with the first page view (~3.8 s
    after launch on 2 cores). Returns at once; never raises; off with CLAC_PRELOAD=0."""
    if _preload_off():
        return
    try:
        _warm(str(default_index()))
    except Exception:  # the first page view tries again, and the page that needs it reports
        return


def _warm(ix: str) -> None:
    _model_future(str(default_checkpoint()))
    _index_future(ix, index_stamp(ix))
    _imports_future()
    _map_future(ix, index_stamp(ix))  # the map's points and hover text (~1 s of Python)


def _analyse_a_small_crystal(ex: Explorer) -> None:
    """The first crystal a process analyses pays ~3.5 s of imports on 2 cores (CHGNet, whose
    features the crystal tower reads, torch-geometric's graphs, pymatgen's analysis) before
    its own work; a silicon cell analysed here pays them instead."""
    from pymatgen.core import Lattice, Structure

    si = Structure(Lattice.cubic(5.431), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    analyse_upload(ex, si)


@st.cache_resource(show_spinner=False)
def _structure_path_future(checkpoint: str, _ex: Explorer) -> Future:
    return _POOL.submit(_analyse_a_small_crystal, _ex)


def warm_structure_path(ex: Explorer) -> None:
    """On the pages that analyse crystals (Upload, Corpus): start, once per process and in the
    background, what the first uploaded or indexed crystal would otherwise wait for, while the
    user picks a file. Returns at once; never raises; off with CLAC_PRELOAD=0."""
    if _preload_off():
        return
    try:
        _structure_path_future(str(ex.checkpoint), ex)
    except Exception:  # a warm-up only: the page's own analysis reports its errors
        return


@st.cache_data(show_spinner=False, max_entries=16)
def _loaded_info(checkpoint: str, index_dir: str, stamp: tuple[float, ...]) -> dict[str, Any]:
    return loaded_info(checkpoint, index_dir)  # stamp (file mtimes) re-reads a rewritten index


def _stamp(*files: Path) -> tuple[float, ...]:
    return tuple(f.stat().st_mtime if f.exists() else 0.0 for f in files)


@st.cache_resource(show_spinner="Loading the CLaC model…")
def _load_model(checkpoint: str) -> Any:
    return _wait(_model_future(checkpoint), _model_future)  # one model per process, shared by every index


@st.cache_resource(show_spinner="Loading the corpus index…")
def _load_index(index_dir: str, stamp: str) -> CorpusIndex:
    # ``stamp`` (inference.index_stamp) is part of the cache key: a rebuilt index is reloaded
    return _wait(_index_future(index_dir, stamp), _index_future)


@st.cache_resource(show_spinner=False)
def _explorer_for(checkpoint: str, index_dir: str, stamp: str) -> Explorer:
    model, index = _load_model(checkpoint), _load_index(index_dir, stamp)
    return Explorer(model, index, checkpoint=Path(checkpoint), index_dir=Path(index_dir))


def _fail(what: str, exc: Exception) -> None:
    st.error(f"Could not load the {what}: {md_escape(exc)}")
    st.stop()


def get_info() -> dict[str, Any]:
    """What is loaded (checkpoint + index files; no model), or an error message and st.stop()."""
    ck, ix = default_checkpoint(), Path(current_index_dir())
    try:
        info = dict(_loaded_info(str(ck), str(ix), _stamp(ck / "config.json", ix / "manifest.json", ix / "embeddings.npy")))
        info.update(docs_info())  # model card + eval results: two small files, always current
        return info
    except Exception as exc:  # show, do not crash the page
        _fail("model or index", exc)
        raise  # pragma: no cover


def get_map_frame(index_dir: str | Path) -> pd.DataFrame:
    """The map points (with hover text) of the index in ``index_dir``, from the background
    load when it was started, else built now (a rebuilt index gets a new one)."""
    ix = str(index_dir)
    return _wait(_map_future(ix, index_stamp(ix)), _map_future)


def get_index() -> CorpusIndex:
    """The selected corpus index without the model (pages that only look crystals up)."""
    try:
        ix = current_index_dir()
        return _load_index(ix, index_stamp(ix))
    except Exception as exc:
        _fail("corpus index", exc)
        raise  # pragma: no cover


def get_explorer() -> Explorer:
    """The loaded Explorer (model + selected index), or an error message and st.stop()."""
    try:
        ix = current_index_dir()
        return _explorer_for(str(default_checkpoint()), ix, index_stamp(ix))
    except Exception as exc:
        _fail("model or index", exc)
        raise  # pragma: no cover
