"""The browser session: its private token, the indexes it may open and the selected one."""

from __future__ import annotations

import secrets
from pathlib import Path

import streamlit as st

from clac_core.inference import default_index, list_indexes

INDEX_KEY = "clac_index_dir"
PENDING_INDEX_KEY = "clac_pending_index"  # a label the sidebar selects on its next run
SESSION_KEY = "clac_session"


def session_token() -> str:
    """A random token naming this browser session's private index folder."""
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = secrets.token_hex(12)
    return st.session_state[SESSION_KEY]


def session_indexes() -> dict[str, Path]:
    """Indexes this session may open: default, assets, shared and its own."""
    return list_indexes(session_token())


def current_index_dir() -> str:
    return st.session_state.get(INDEX_KEY) or str(default_index())


def select_index(path: Path) -> None:
    """Make ``path`` the sidebar's selection and rerun.

    The sidebar's selectbox has already been drawn when a page builds an index, and Streamlit
    forbids setting a drawn widget's value in the same run; so the label is parked in the
    session state and applied before the selectbox is drawn on the rerun (issue 12, point 2).
    """
    labels = {str(p): label for label, p in session_indexes().items()}
    label = labels.get(str(path))
    if label is not None:
        st.session_state[PENDING_INDEX_KEY] = label
        st.session_state[INDEX_KEY] = str(path)
    st.rerun()
