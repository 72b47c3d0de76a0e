"""Embedding map: crystals and texts in 2D; project a typed query or an uploaded crystal."""

from __future__ import annotations

import html

import plotly.express as px
import streamlit as st

from app_pages._shared import get_explorer, selected_points
from clac_core.inference import read_upload

st.title("Embedding map")
ex = get_explorer()


@st.cache_data(show_spinner="Loading the map…")
def _coords(index_dir: str, _key: str):
    return ex.umap_coords()


pts = _coords(str(ex.index_dir), ex.index.corpus_hash)
st.caption(f"Projection: {html.escape(ex.map_method)} · {int((pts.modality == 'crystal').sum()):,} crystals, "
           f"{int((pts.modality == 'text').sum()):,} texts")
props = ex.index.property_columns()
c1, c2, c3 = st.columns(3)
colour = c1.selectbox("Colour by", ["crystal system", "source", "modality"] + props, key="map_colour")
show_text = c2.checkbox("Show text points", value=True, key="map_text")
query = c3.text_input("Project a query", key="map_query", placeholder="e.g. a layered sulfide")
up = st.file_uploader("…or project an uploaded crystal", key="map_upload", type=["cif", "vasp", "poscar", "xyz", "extxyz"])

data = pts if show_text else pts[pts.modality == "crystal"]
col = {"crystal system": "crystal_system", "source": "source", "modality": "modality"}.get(colour, colour)
data = data.copy()
data["hover"] = data["label"].astype(str).str.slice(0, 120)
fig = px.scatter(
    data, x="x", y="y", color=col, symbol="modality", hover_name="hover", custom_data=["modality", "row"],
    hover_data={"x": False, "y": False, "source": True}, opacity=0.7, height=620,
    color_continuous_scale="Viridis",
)
fig.update_traces(marker={"size": 5})
extra = []
if query.strip():
    extra.append((f"query: {query.strip()}", ex.embed_texts([query.strip()])))
if up is not None:
    res = read_upload(up.getvalue(), up.name)
    if res.ok:
        extra.append((f"upload: {res.filename}", ex.embed_structures(res.structures[:1])))
    else:
        st.error(html.escape(res.error or ""))
for name, emb in extra:
    xy = ex.project(emb)
    fig.add_scatter(x=xy[:, 0], y=xy[:, 1], mode="markers+text", text=[name[:40]], textposition="top center",
                    marker={"size": 18, "symbol": "star", "color": "red", "line": {"width": 1, "color": "black"}},
                    name=name[:40])
fig.update_layout(legend={"orientation": "h"}, margin={"l": 0, "r": 0, "t": 30, "b": 0})
event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"), key="map_chart")
sel = event.selection.points if event is not None and hasattr(event, "selection") else []
if sel:
    picked = selected_points(data, sel)
    st.subheader(f"Selected: {len(picked)} points")
    st.dataframe(picked[["modality", "label", "crystal_system", "source"]], hide_index=True, key="map_sel_table")
    crystals = picked[picked["modality"] == "crystal"]
    if len(crystals):
        md = ex.index.metadata
        rows = [int(r) for r in crystals["row"]]
        names = {r: f"{md.iloc[r]['formula']} ({md.iloc[r]['crystal_id']})" for r in rows}
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        row = c1.selectbox("Selected crystal", rows, format_func=names.get, key="map_pick")
        if c2.button("Open in 3D viewer", key="map_view", type="primary") and row is not None:
            st.session_state["viewer_structure"] = (names[row], ex.index.structure(row))
            st.session_state.pop("viewer_pick", None)  # the viewer opens on "(last selected)"
            st.switch_page("app_pages/viewer.py")
else:
    st.caption("Click, box- or lasso-select points to list them; a selected crystal opens in the 3D viewer.")
