"""3D viewer: a corpus crystal found by id or formula, or one opened from another page, with
cell choice, supercells, styles, tables, CIF and POSCAR downloads.

Needs the corpus index only, not the model.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.ui.display import MISSING, md_escape, plain, property_columns, property_label
from app_pages.ui.handoff import VIEWER_PICK_KEY, VIEWER_QUERY_KEY, VIEWER_STRUCTURE_KEY, remember, restore
from app_pages.ui.loaders import get_index
from app_pages.ui.lookup import CrystalFinder
from app_pages.ui.session import current_index_dir
from app_pages.ui.structure_view import show_structure, structure_tables
from clac_core.inference import index_stamp, symmetry_info
from clac_core.query.structure import structure_words

DEFAULT_CRYSTAL = "mp-149"  # diamond-cubic Si, where the corpus has it; else the index's first crystal


@st.cache_resource(show_spinner=False, max_entries=8)
def _finder(index_dir: str, stamp: str, _metadata: pd.DataFrame) -> CrystalFinder:
    return CrystalFinder(_metadata)  # keyed like the index itself: a rebuilt index gets a new one


st.title("3D viewer")
index = get_index()
md = index.metadata
ix = current_index_dir()
finder = _finder(ix, index_stamp(ix), md)

restore(VIEWER_QUERY_KEY, "")
query = st.text_input(
    "Find a crystal", key=VIEWER_QUERY_KEY, placeholder="a crystal id (mp-149) or a formula (SiO2)",
    help="An exact id opens that crystal; a formula lists its crystals, lowest formation energy first; "
    "part of an id lists the ids that start with it.",
)
remember(VIEWER_QUERY_KEY, query)
row: int | None = None
if query.strip():
    found = finder.find(query)
    if not found.rows:
        st.info(f"No crystal has the id or formula “{md_escape(query.strip(), 80)}” in this index.")
        st.stop()
    labels = {  # label -> row; ids are unique, so are the labels
        plain(f"{md.iloc[r]['formula']} · {md.iloc[r]['spacegroup_symbol']} · {md.iloc[r]['crystal_id']}", 160): r
        for r in found.rows
    }
    more = f" (first {len(found.rows)} of {found.total:,})" if found.total > len(found.rows) else ""
    # the query is part of the key: a new query is a new list, its best match chosen afresh
    choice = st.selectbox(
        f"Matches{more}", list(labels), index=0 if found.certain else None,
        key=f"{VIEWER_PICK_KEY}_{query.strip().lower()[:80]}", placeholder="Choose a crystal",
    )
    row = labels.get(choice) if choice is not None else None
    if row is None:
        st.info(f"No crystal has the id “{md_escape(query.strip(), 80)}”: choose one of the "
                f"{found.total:,} whose id starts with it.")
        st.stop()
elif VIEWER_STRUCTURE_KEY in st.session_state:
    st.caption("Showing the crystal last opened on another page; find another above.")
else:
    row = finder.row_of(DEFAULT_CRYSTAL)
    row = 0 if row is None else row

if row is None:
    title, structure = st.session_state[VIEWER_STRUCTURE_KEY]
else:
    title, structure = f"{md.iloc[row]['formula']} ({md.iloc[row]['crystal_id']})", index.structure(row)

sym = symmetry_info(structure)
st.subheader(md_escape(title, 200))
st.caption(
    f"{md_escape(sym['spacegroup_symbol'])} ({sym['spacegroup_number']}) · {md_escape(sym['crystal_system'])} · "
    f"{len(structure)} sites as stored"
    + (f" · {md_escape(words)}" if row is not None and (words := structure_words(
        md.iloc[row].get("dimensionality"), md.iloc[row].get("cation_polyhedra"),
        md.iloc[row].get("structure_type"))) else "")
)
if row is not None:
    props = property_columns(md)
    if props:
        vals = {property_label(c): md.iloc[row][c] for c in props}
        st.dataframe(
            pd.DataFrame([vals]).style.format(lambda v: MISSING if pd.isna(v) else f"{v:.3f}"),
            hide_index=True, key="viewer_props",
        )
shown = show_structure(structure, key="viewer", title=plain(title, 120), height=520)
structure_tables(shown)
