"""3D viewer: a corpus or uploaded crystal with cell choice, supercells, styles, tables,
symmetrized CIF and POSCAR downloads.

Needs the corpus index only, not the model.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.ui.display import MISSING, md_escape, plain, property_columns, property_label
from app_pages.ui.loaders import get_index
from app_pages.ui.structure_view import show_structure, structure_tables
from clac_core.inference import symmetry_info
from clac_core.query.structure import structure_words

st.title("3D viewer")
index = get_index()
md = index.metadata
options = ["(last selected)"] if "viewer_structure" in st.session_state else []
labels = [
    plain(f"{f} · {sg} · {cid}", 160)
    for f, sg, cid in zip(md["formula"], md["spacegroup_symbol"], md["crystal_id"], strict=True)
]
choice = st.selectbox("Crystal", options + labels, key="viewer_pick")
row = None
if choice == "(last selected)":
    title, structure = st.session_state["viewer_structure"]
else:
    row = labels.index(choice)
    title, structure = f"{md.iloc[row]['formula']} ({md.iloc[row]['crystal_id']})", index.structure(row)

sym = symmetry_info(structure)
st.subheader(md_escape(title, 200))
st.caption(
    f"{md_escape(sym['spacegroup_symbol'])} ({sym['spacegroup_number']}) · {md_escape(sym['crystal_system'])} · "
    f"{len(structure)} sites as stored"
    + (f" · {md_escape(words)}" if row is not None and (words := structure_words(
        md.iloc[row].get("dimensionality"), md.iloc[row].get("cation_polyhedra"))) else "")
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
