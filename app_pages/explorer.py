"""Embedding map: crystals and texts in 2D; project a typed query or an uploaded crystal;
download the map (HTML with plotly.js inside, PNG from the chart's camera button); find
structures similar to a selected crystal.

Marks are chosen so that nothing is told apart by a label alone: crystals are dots coloured by
crystal system (or source, or a property), description texts are small grey crosses (a colour
no crystal system has), the query is a black star and the upload a yellow diamond, each named
in the legend and labelled by an arrow placed off the point.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages.ui.display import (
    html_escape,
    md_escape,
    plain,
    property_columns,
    property_label,
)
from app_pages.ui.handoff import clip_query, cut_message, open_in_viewer
from app_pages.ui.loaders import get_explorer, get_map_frame
from app_pages.ui.results import figure_html, selected_points, similar_panel
from clac_core.inference import read_upload
from clac_core.symmetry import CRYSTAL_SYSTEMS_HIGH_FIRST as CRYSTAL_SYSTEMS

SYSTEM_COLOURS = dict(zip(CRYSTAL_SYSTEMS, ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                             "#e377c2"), strict=True))
TEXT_COLOUR = "#a6a6a6"  # neutral grey, unlike every crystal-system colour
OTHER_COLOURS = ("#17becf", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd")
QUERY_MARK = {"symbol": "star", "color": "#000000", "size": 22, "line": {"width": 1.5, "color": "#ffffff"}}
UPLOAD_MARK = {"symbol": "diamond", "color": "#ffd400", "size": 18, "line": {"width": 2, "color": "#000000"}}
# A property's colour scale spans these percentiles of its values: one outlier (He's 16.6 eV
# band gap in the MP corpus) would otherwise squeeze every other crystal into one colour.
CLIP_PERCENTILES = (2.0, 98.0)

st.title("Embedding map")
ex = get_explorer()
pts = get_map_frame(ex.index_dir)  # built in the background since the server started
st.caption(f"Projection: {md_escape(ex.map_method)} · {int((pts.modality == 'crystal').sum()):,} crystals, "
           f"{int((pts.modality == 'text').sum()):,} texts")
props = property_columns(ex.index.metadata)
c1, c2, c3 = st.columns(3)
colour = c1.selectbox("Colour by", ["crystal system", "source"] + props, key="map_colour",
                      format_func=lambda c: c if c in ("crystal system", "source") else property_label(c))
show_text = c2.checkbox("Show description points", value=False, key="map_text",
                        help="The synthetic descriptions embedded beside the crystals (grey crosses).")
cut = clip_query("map_query")  # no max_chars on the box: the browser dropped a longer paste whole
query = c3.text_input("Project a query", key="map_query", placeholder="e.g. a layered sulfide")
if cut is not None:
    st.warning(cut_message(cut), icon=":material/content_cut:")
up = st.file_uploader("…or project an uploaded crystal", key="map_upload")

data = (pts if show_text else pts[pts.modality == "crystal"]).reset_index(drop=True)
hover = data["hover"]
fig = go.Figure()


def _points(mask: np.ndarray, name: str, marker: dict, *, legend: bool = True) -> None:
    sub = data[mask]
    # 4 decimals of a map coordinate: a fifth of the figure's JSON. Plain arrays and a list of
    # hover strings: plotly serialized pandas objects and an object array 8x slower (1.2-1.8 s).
    fig.add_trace(go.Scattergl(
        x=sub["x"].round(4).to_numpy(), y=sub["y"].round(4).to_numpy(), mode="markers", name=name,
        marker=marker, showlegend=legend, hovertext=hover[mask].tolist(), hovertemplate="%{hovertext}<extra></extra>",
        customdata=np.stack([sub["modality"].to_numpy(), sub["row"].to_numpy()], axis=1) if len(sub) else None,
    ))


crystal = (data["modality"] == "crystal").to_numpy()
if colour == "crystal system":
    systems = data["crystal_system"].astype(str).str.lower()
    for s in CRYSTAL_SYSTEMS:
        m = crystal & (systems == s).to_numpy()
        if m.any():
            _points(m, s, {"size": 6, "color": SYSTEM_COLOURS[s], "opacity": 0.75})
    rest = crystal & ~systems.isin(CRYSTAL_SYSTEMS).to_numpy()
    if rest.any():
        _points(rest, "other", {"size": 6, "color": "#555555", "opacity": 0.75})
elif colour == "source":
    for i, src in enumerate(sorted(data.loc[crystal, "source"].astype(str).unique())):
        m = crystal & (data["source"].astype(str) == src).to_numpy()
        _points(m, plain(src, 40), {"size": 6, "color": OTHER_COLOURS[i % len(OTHER_COLOURS)], "opacity": 0.75})
else:
    vals = pd.to_numeric(data[colour], errors="coerce").to_numpy(dtype=float) if colour in data else np.full(len(data), np.nan)
    known = crystal & np.isfinite(vals)
    if known.any():
        lo, hi = (float(v) for v in np.percentile(vals[known], CLIP_PERCENTILES))
        if hi <= lo:  # (almost) one value: the full range
            lo, hi = float(vals[known].min()), float(vals[known].max())
        p_lo, p_hi = (f"{p:g}" for p in CLIP_PERCENTILES)
        _points(known, property_label(colour), {
            "size": 6, "color": vals[known], "colorscale": "Viridis", "opacity": 0.8, "cmin": lo, "cmax": hi,
            "colorbar": {"title": {"text": f"{html_escape(property_label(colour))}<br>"
                                           f"<sub>clipped to percentiles {p_lo}–{p_hi}</sub>"}, "thickness": 12},
        })
        beyond = int(((vals[known] < lo) | (vals[known] > hi)).sum())
        st.caption(md_escape(
            f"Colour scale clipped to percentiles {p_lo}–{p_hi} of {property_label(colour)} "
            f"({lo:.2f} to {hi:.2f}); the {beyond:,} crystals beyond take the end colours, "
            "and the hover shows every value."
        ))
    if (crystal & ~known).any():
        _points(crystal & ~known, "crystal, value unknown", {"size": 5, "color": "#d9d9d9", "opacity": 0.6})
text = (data["modality"] == "text").to_numpy()
if text.any():
    _points(text, "description (text)", {"size": 6, "color": TEXT_COLOUR, "symbol": "x-thin",
                                         "line": {"width": 1.5, "color": TEXT_COLOUR}, "opacity": 0.8})

extra = []
if query.strip():
    extra.append(("your query", query.strip(), QUERY_MARK, ex.embed_texts([query.strip()]), (60, -50)))
if up is not None:
    res = read_upload(up.getvalue(), up.name)
    if res.ok:
        try:
            emb = ex.embed_structures(res.structures[:1])
            extra.append(("your upload", res.filename, UPLOAD_MARK, emb, (-60, 50)))
        except Exception as exc:  # a crystal the model cannot embed: say so, keep the map
            st.error(f"**{md_escape(res.filename, 120)}**: could not place it on the map: {md_escape(exc)}")
    else:
        st.error(f"**{md_escape(res.filename, 120)}**: {md_escape(res.error or '')}")
for name, label, mark, emb, (ax, ay) in extra:
    xy = ex.project(emb)
    fig.add_trace(go.Scatter(
        x=xy[:, 0], y=xy[:, 1], mode="markers", name=name, marker=mark,
        hovertext=[html_escape(label, 120)], hovertemplate=f"{name}: %{{hovertext}}<extra></extra>",
    ))
    # the label sits off the point, joined by an arrow, inside a white box: it covers no mark
    fig.add_annotation(x=float(xy[0, 0]), y=float(xy[0, 1]), text=html_escape(f"{name}: {label}", 48),
                       showarrow=True, arrowhead=2, ax=ax, ay=ay, bgcolor="rgba(255,255,255,0.9)",
                       bordercolor="#333333", borderwidth=1, font={"size": 12})
fig.update_layout(
    height=640, legend={"orientation": "h", "y": -0.08, "itemsizing": "constant", "title": {"text": ""}},
    margin={"l": 0, "r": 0, "t": 30, "b": 0}, xaxis={"title": "", "showticklabels": False},
    yaxis={"title": "", "showticklabels": False}, plot_bgcolor="#ffffff",
)
# No static-image engine (kaleido) is installed on the server: the PNG is drawn by the browser,
# from the chart's own camera button, set up here (name, 2x scale).
# plotGlPixelRatio 1 (plotly's default is 2): the WebGL points are drawn at screen resolution,
# a quarter of the pixels; without a GPU (software WebGL) the first draw took ~1.5 s longer.
PNG_BUTTON = {"toImageButtonOptions": {"format": "png", "filename": "clac_embedding_map", "scale": 2},
              "plotGlPixelRatio": 1, "displaylogo": False}
event = st.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"), key="map_chart",
                        config=PNG_BUTTON)
c_html, c_png = st.columns([1, 3], vertical_alignment="center")
c_html.download_button(
    "Download the map (HTML)", partial(figure_html, fig), file_name="clac_embedding_map.html", mime="text/html",
    key="map_html", help="An interactive page (zoom, hover) that opens offline: plotly.js is inside the file.",
)
c_png.caption("PNG: the camera icon in the chart's toolbar (top right) saves the map as you see it; the "
              "browser draws it, as this server has no static-image engine.")
sel = event.selection.points if event is not None and hasattr(event, "selection") else []
if sel:
    picked = selected_points(data, sel)
    st.subheader(f"Selected: {len(picked)} point{'s' if len(picked) != 1 else ''}")
    st.dataframe(picked[["modality", "label", "crystal_system", "source"]], hide_index=True, key="map_sel_table")
    crystals = picked[picked["modality"] == "crystal"]
    if len(crystals):
        md = ex.index.metadata
        rows = [int(r) for r in crystals["row"]]
        names = {r: plain(f"{md.iloc[r]['formula']} ({md.iloc[r]['crystal_id']})", 120) for r in rows}
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        row = c1.selectbox("Selected crystal", rows, format_func=names.get, key="map_pick")
        if c2.button("Open in 3D viewer", key="map_view", type="primary") and row is not None:
            open_in_viewer(names[row], ex.index.structure(row))
        if row is not None:
            similar_panel(ex, row, key="map_similar", title=names[row])
else:
    st.caption("Click, box- or lasso-select points to list them; a selected crystal opens in the 3D viewer.")
