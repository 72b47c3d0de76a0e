"""Search by text: free-text query -> ranked crystals, with hard filters and a 3D view."""

from __future__ import annotations

import streamlit as st

from app_pages.ui.display import md_escape
from app_pages.ui.filters import filters_ui
from app_pages.ui.handoff import (
    EXAMPLE_QUERIES,
    SEARCH_QUERY_KEY,
    clip_query,
    cut_message,
    hand_to_viewer,
    remember,
    restore,
)
from app_pages.ui.loaders import get_explorer
from app_pages.ui.results import display_table, show_results, similar_panel
from app_pages.ui.structure_view import show_structure
from clac_core.properties import HULL_COLUMN
from clac_core.query.structure import structure_words
from clac_core.vocab.classes import GAP_NOTE, NEAR_HULL

st.title("Search by text")
ex = get_explorer()
restore(SEARCH_QUERY_KEY, EXAMPLE_QUERIES[0])  # the query of the last visit, or one from Home

st.caption("Examples:")
for i, c in enumerate(st.columns(len(EXAMPLE_QUERIES))):
    if c.button(EXAMPLE_QUERIES[i], key=f"search_example_{i}", width="stretch"):
        st.session_state[SEARCH_QUERY_KEY] = EXAMPLE_QUERIES[i]
cut = clip_query(SEARCH_QUERY_KEY)  # no max_chars on the box: the browser dropped a longer paste whole
query = st.text_input("Describe the crystal you are looking for", key=SEARCH_QUERY_KEY)
remember(SEARCH_QUERY_KEY, query)
if cut is not None:
    st.warning(cut_message(cut), icon=":material/content_cut:")
k = st.slider("Results", 5, 200, 25, key="search_k")
with st.expander("Filters", expanded=True):
    filters = filters_ui(ex, "search")
aware = st.toggle(
    "Property-aware search", value=True, key="search_aware",
    help="Read property constraints from the query (band gap, formation energy, density, magnetism, "
    "stable, elements with/without, crystal system) and re-rank the model's hits by them: known DFT "
    "values first, the model's predicted values where a crystal has none. Off: the model's cosine only.",
)
try:
    answer = ex.search(query, k, filters, property_aware=aware)
except ValueError as exc:
    st.warning(md_escape(exc))
    st.stop()
if aware:
    understood = answer.intent.describe()
    note = f" ({GAP_NOTE})" if any(c.prop == "band_gap" for c in answer.intent.constraints) else ""
    if answer.intent.structure_types and "structure_type" not in ex.index.metadata.columns:
        note += (f" ({', '.join(answer.intent.structure_types)}: this corpus does not record structure types, "
                 "so the structure type is left to the model)")
    if answer.intent.words_only() and HULL_COLUMN in ex.index.metadata.columns:
        note += (f" (among the crystals that meet these, those on or within {NEAR_HULL * 1000:g} meV/atom of "
                 "this corpus's convex hull, from DFT formation energies, come first)")
    st.caption(
        "Understood: " + (" · ".join(md_escape(u) for u in understood) if understood else "no property constraint")
        + (" " + md_escape(note.strip()) if note else "")  # md_escape strips the leading space
    )
hits = answer.hits
diag = answer.diagnosis
if answer.dead_end and diag.relaxation:
    said = diag.messages() or ["No crystal in this corpus meets all of these together."]
    st.warning(md_escape(" ".join(said) + f" Nearest relaxation: {diag.relaxation}."), icon=":material/tune:")
    relaxed = hits.empty or st.toggle("Show the results of the relaxation", key="search_relaxed")
    if relaxed:
        hits = answer.relaxed_hits
        st.caption(md_escape(f"Showing the relaxed search: {diag.relaxation}."))
if hits.empty:
    st.info("No crystal passes these filters, even with one of them relaxed: clear the filters.")
    st.stop()
table = display_table(ex, hits)
ranked_by = (
    "score = 2 × match to the understood constraints + cosine similarity"
    if "score" in hits.columns
    else "cosine similarity between the query and each crystal embedding"
)
st.caption(
    f"{len(hits)} results · ranked by {ranked_by} · click a column header to sort · "
    "— = not known for this crystal · predicted columns are the model's estimates, not DFT · "
    + md_escape(ex.search_engine)
)
event = show_results(table, key="search_table", on_select="rerun", selection_mode="single-row")
st.download_button(
    "Download CSV", table.to_csv(index=False).encode(), file_name="clac_search.csv", mime="text/csv",
    key="search_csv", help="Every column shown, properties included (empty where unknown).",
)
sel = event.selection.rows if event is not None and hasattr(event, "selection") else []
row = int(hits.iloc[sel[0]]["row"]) if sel else int(hits.iloc[0]["row"])
r = ex.index.metadata.iloc[row]
words = structure_words(r.get("dimensionality"), r.get("cation_polyhedra"), r.get("structure_type"))
st.subheader(
    f"{md_escape(r['formula'])} · {md_escape(r['spacegroup_symbol'])} · {md_escape(r['crystal_system'])}"
    + (f" · {md_escape(words)}" if words else "")
)
st.caption("Select a row in the table to view another crystal.")
structure = ex.index.structure(row)
hand_to_viewer(f"{r['formula']} ({r['crystal_id']})", structure)
# built only when asked: a 3D view on every run cost each query ~0.5 s in the browser (issue 19)
if st.toggle("Show in 3D", key="search_show3d", help="Draw the selected crystal in 3D (cell, style, downloads)."):
    show_structure(structure, key="search_view", title=f"{r['formula']} ({r['crystal_id']})")
similar_panel(ex, row, key="search_similar", title=f"{r['formula']} ({r['crystal_id']})")
