"""The sidebar every page shares (corpus index selector, what is loaded) and the favicon."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from app_pages.ui.display import md_escape
from app_pages.ui.loaders import get_info
from app_pages.ui.session import INDEX_KEY, PENDING_INDEX_KEY, current_index_dir, session_indexes


@st.cache_resource(show_spinner=False)
def favicon() -> Any:
    """A 64 px blue diamond drawn here (no file, no font host, no CDN)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(img).polygon([(32, 2), (62, 32), (32, 62), (2, 32)], fill=(31, 111, 235, 255))
    return img


def sidebar() -> None:
    """What is loaded + corpus index selector (shared by all pages; reads files, loads no model)."""
    with st.sidebar:
        st.markdown("### CLaC Explorer")
        indexes = session_indexes()
        if not indexes:
            st.error("No corpus index found. Run `python scripts/make_assets.py --random-init --out assets/`.")
            return
        labels = list(indexes)
        pending = st.session_state.pop(PENDING_INDEX_KEY, None)
        if pending in indexes:
            st.session_state["sidebar_index"] = pending  # allowed: the widget is not drawn yet
        elif st.session_state.get("sidebar_index") not in indexes:
            st.session_state.pop("sidebar_index", None)  # e.g. an index that was removed
        if "sidebar_index" not in st.session_state:
            cur = current_index_dir()
            paths = [str(p) for p in indexes.values()]
            st.session_state["sidebar_index"] = labels[paths.index(cur) if cur in paths else 0]
        # the value lives in the session state only (no index=): Streamlit warns when both are set
        choice = st.selectbox("Corpus index", labels, key="sidebar_index")
        st.session_state[INDEX_KEY] = str(indexes[choice])
        try:
            info = get_info()
        except Exception:  # get_info already reported
            return
        if info["untrained"]:
            st.warning("UNTRAINED model (random weights): results are placeholders.", icon=":material/warning:")
        st.caption(
            f"Model {md_escape(Path(info['checkpoint']).name)} · hash {md_escape(info['checkpoint_hash'])}  \n"
            f"{info['crystals']:,} crystals · {info['descriptions']:,} descriptions · {info['embed_dim']}-d"
        )
        if not info["index_matches_model"]:
            st.error("This index was built with a different checkpoint; similarities are meaningless.")
