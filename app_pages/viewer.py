"""3D viewer: a corpus or uploaded crystal with unit cell, supercells, styles, tables, CIF.

Needs the corpus index only, not the model.
"""

from __future__ import annotations

import html

import streamlit as st

from app_pages._shared import cif_text, get_index, show_structure, structure_tables
from clac_core.index import symmetry_info

st.title("3D viewer")
index = get_index()
md = index.metadata
options = ["(last selected)"] if "viewer_structure" in st.session_state else []
labels = (md["formula"] + " · " + md["spacegroup_symbol"].astype(str) + " · " + md["crystal_id"].astype(str)).tolist()
choice = st.selectbox("Crystal", options + labels, key="viewer_pick")
if choice == "(last selected)":
    title, structure = st.session_state["viewer_structure"]
else:
    row = labels.index(choice)
    title, structure = f"{md.iloc[row]['formula']} ({md.iloc[row]['crystal_id']})", index.structure(row)

sym = symmetry_info(structure)
st.subheader(f"{html.escape(title)}")
st.caption(f"{sym['spacegroup_symbol']} ({sym['spacegroup_number']}) · {sym['crystal_system']} · {len(structure)} sites")
show_structure(structure, key="viewer", title=title, height=520)
c1, c2 = st.columns([3, 1])
with c1:
    structure_tables(structure)
with c2:
    st.download_button(
        "Download CIF", cif_text(structure).encode(), file_name=f"{structure.composition.reduced_formula}.cif",
        mime="chemical/x-cif", key="viewer_cif",
    )
