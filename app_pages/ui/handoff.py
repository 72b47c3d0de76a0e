"""What travels between pages and outlives a visit: a query from Home to Search, files from
Home to Upload, and the values and uploads a user left on a page.

Streamlit forgets a widget's value as soon as a run does not draw it (any visit to another
page), and a ``st.file_uploader`` cannot be given files back. So what the user typed or
uploaded is copied into plain session-state entries here, which Streamlit keeps for the whole
browser session (issue 19, point 5), and the pages re-render from them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from clac_core.inference import UploadPanel, UploadResult

MAX_QUERY_CHARS = 500  # a query is read up to here; a longer paste is cut, and the page says so
SEARCH_QUERY_KEY = "search_query"  # the Search page's text box
SEARCH_PAGE = "app_pages/search.py"
UPLOAD_PAGE = "app_pages/upload.py"
VIEWER_PAGE = "app_pages/viewer.py"
VIEWER_QUERY_KEY = "viewer_query"  # the viewer's "find a crystal" box
VIEWER_PICK_KEY = "viewer_pick"  # the viewer's list of matches (its key also holds the query)
VIEWER_STRUCTURE_KEY = "viewer_structure"  # (title, structure) last handed to the viewer
# What a materials scientist types; shown as buttons on Home and on Search (examples, not an eval set).
EXAMPLE_QUERIES = (
    "wide band gap oxide",
    "layered sulfide",
    "cubic perovskite",
    "magnetic iron compound",
    "band gap around 1.5 eV",
)
_KEPT = "handoff_kept"  # widget key -> the value it had when last drawn
_UPLOADS = "handoff_uploads"  # upload id -> StoredUpload, in the order they came
_DISMISSED = "handoff_dismissed"  # upload ids the user removed (a widget may still hold them)
_WIDGET_IDS = "handoff_widget_ids"  # uploader key -> the upload ids it held on its last run


def restore(key: str, default: Any = None) -> None:
    """Call before drawing the widget ``key`` (which must not pass ``value=``): gives it back
    the value it had when last drawn, on an earlier visit to its page, or ``default``."""
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(_KEPT, {}).get(key, default)


def remember(key: str, value: Any) -> None:
    """Call after drawing the widget ``key``: the value :func:`restore` gives back next visit."""
    st.session_state.setdefault(_KEPT, {})[key] = value


def clip_query(key: str = SEARCH_QUERY_KEY) -> int | None:
    """Cut the text in widget ``key`` to :data:`MAX_QUERY_CHARS` before the widget is drawn, so
    the box shows what is read. Returns the length it had when it was cut, else None."""
    text = st.session_state.get(key)
    if isinstance(text, str) and len(text) > MAX_QUERY_CHARS:
        st.session_state[key] = text[:MAX_QUERY_CHARS]
        return len(text)
    return None


def cut_message(length: int) -> str:
    return (f"The query was {length:,} characters long; only the first {MAX_QUERY_CHARS} are read "
            "(shown in the box).")


def start_search(query: str) -> None:
    """Open the Search page with ``query`` in its box (it runs the search on arrival)."""
    st.session_state[SEARCH_QUERY_KEY] = query
    remember(SEARCH_QUERY_KEY, query)
    st.switch_page(SEARCH_PAGE)


def hand_to_viewer(title: str, structure: Any) -> None:
    """Make ``structure`` the crystal the viewer shows when its search box is empty (the Search
    page calls this for the crystal it shows, without leaving the page)."""
    st.session_state[VIEWER_STRUCTURE_KEY] = (title, structure)


def open_in_viewer(title: str, structure: Any) -> None:
    """Open the 3D viewer on ``structure``: its search box is emptied, so the viewer shows it."""
    hand_to_viewer(title, structure)
    st.session_state.pop(VIEWER_QUERY_KEY, None)
    remember(VIEWER_QUERY_KEY, "")
    st.switch_page(VIEWER_PAGE)


@dataclass
class StoredUpload:
    """One uploaded file or pasted text, kept for the browser session.

    Attributes:
        name: the file name as uploaded (escape before display).
        data: the raw bytes until the Upload page has read them, then empty.
        result: what the reader made of ``data`` (None until read).
        analyses: (index key, structure number) -> what the Upload page computed for it
            (:class:`UploadPanel`), so a return visit or a rerun redraws instead of embedding again.
    """

    name: str
    data: bytes = b""
    result: UploadResult | None = None
    analyses: dict[tuple[str, int], UploadPanel] = field(default_factory=dict)


def stored_uploads() -> dict[str, StoredUpload]:
    """This session's uploads (other sessions never see them), oldest first."""
    return st.session_state.setdefault(_UPLOADS, {})


def file_id(f: Any) -> str:
    """A name for one upload of one file (an UploadedFile): the same file dropped again is new."""
    return f"{f.name}:{f.size}:{getattr(f, 'file_id', '')}"


def keep_files(files: list[Any]) -> list[str]:
    """Store uploaded files not stored or removed before; returns the ids of ``files``."""
    store = stored_uploads()
    dismissed = st.session_state.setdefault(_DISMISSED, set())
    ids = []
    for f in files:
        fid = file_id(f)
        ids.append(fid)
        if fid not in store and fid not in dismissed:
            store[fid] = StoredUpload(name=f.name, data=f.getvalue())
    return ids


def keep_widget_files(key: str, files: list[Any], *, was_drawn: bool) -> None:
    """Store the files of the uploader ``key``. ``was_drawn`` (``key in st.session_state`` before
    the widget was drawn): the widget is the one of the last run, so a file gone from it was
    removed with its ×; otherwise the page is visited anew and the widget starts empty, which
    removes nothing."""
    seen = st.session_state.setdefault(_WIDGET_IDS, {})
    now = keep_files(files)
    if was_drawn:
        for fid in set(seen.get(key, ())) - set(now):
            stored_uploads().pop(fid, None)
    seen[key] = now


def keep_paste(text: str, name: str) -> None:
    """Store pasted text (one entry: a new text replaces the old; blank text removes it)."""
    fid = "paste:" + hashlib.sha256(text.encode("utf-8")).hexdigest() if text.strip() else None
    store = stored_uploads()
    for old in [k for k in store if k.startswith("paste:") and k != fid]:
        del store[old]
    if fid is not None and fid not in store and fid not in st.session_state.setdefault(_DISMISSED, set()):
        store[fid] = StoredUpload(name=name, data=text.encode("utf-8"))


def forget_upload(fid: str) -> None:
    """Drop an upload; a widget that still holds the file does not bring it back."""
    stored_uploads().pop(fid, None)
    st.session_state.setdefault(_DISMISSED, set()).add(fid)


def hand_over_files(files: list[Any]) -> None:
    """Store files dropped on another page and open the Upload page, which shows them."""
    keep_files(files)
    st.switch_page(UPLOAD_PAGE)
