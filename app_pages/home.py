"""Home: where work starts. A search box (Enter opens Search with the query run), example
queries, a drop zone for crystal files (opens Upload with them), and one sentence of what this is.

Reads the checkpoint's config.json and the index's manifest.json only: no torch, no model
(tests/test_app.py checks), so the first page is up in a few seconds. The model, checkpoint
and evaluation tables live on "About the model".
"""

from __future__ import annotations

import streamlit as st

from app_pages.ui.browser_warm import warm_map_library
from app_pages.ui.display import corpus_credit, md_escape
from app_pages.ui.handoff import EXAMPLE_QUERIES, hand_over_files, start_search
from app_pages.ui.loaders import get_info
from clac_core.inference import upload_limit_mb

st.title("CLaC Explorer")
info = get_info()
st.markdown(
    f"Find crystals by describing them in plain English, or drop in a structure to find its neighbours: "
    f"CLaC puts {info['crystals']:,} crystal structures and English text in **one embedding space**."
)
if info["untrained"]:
    st.error(
        "**UNTRAINED model.** The loaded checkpoint has random weights (a placeholder for the "
        "app's plumbing). Rankings, labels and the map carry no meaning until a trained model is installed.",
        icon=":material/warning:",
    )

with st.form("home_search", border=False, enter_to_submit=True):
    c_box, c_go = st.columns([6, 1], vertical_alignment="bottom")
    query = c_box.text_input(
        "Describe the crystal you are looking for", key="home_query",
        placeholder="e.g. a layered sulfide with a band gap above 2 eV, no Pb",
    )
    submitted = c_go.form_submit_button("Search", type="primary", width="stretch")
if submitted:
    if query.strip():
        start_search(query)  # leaves the page; the Search page cuts a paste over its limit, and says so
    else:
        st.warning("Type a description first, or pick an example below.")

st.caption("Or try one of these:")
for i, col in enumerate(st.columns(len(EXAMPLE_QUERIES))):
    if col.button(EXAMPLE_QUERIES[i], key=f"home_example_{i}", width="stretch"):
        start_search(EXAMPLE_QUERIES[i])

limit_mb = upload_limit_mb()
files = st.file_uploader(
    "Have a structure? Drop CIF, POSCAR/CONTCAR, extended XYZ or pymatgen JSON files here",
    accept_multiple_files=True, key="home_files", max_upload_size=limit_mb,
    help=f"Opens the Upload page with them: nearest corpus crystals, zero-shot labels, predicted "
    f"properties and a description. {limit_mb} MB per file; files stay in this browser session only.",
)
if files:
    hand_over_files(files)

sources = ", ".join(f"{md_escape(k, 60)} ({v:,})" for k, v in info["by_source"].items())
st.caption(
    f"Corpus: {info['crystals']:,} crystals" + (f" from {sources}" if sources else "") + ". "
    + (corpus_credit(info["by_source"]) or "")
)
st.caption("The model, its training data and its test scores: **About the model** in the sidebar.")
warm_map_library()  # the map's plotting library loads in the browser while the user reads Home
