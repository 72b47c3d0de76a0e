"""The one wrapper around py3Dmol's HTML quirk, plus a plotly fallback.

py3Dmol's HTML fetches 3Dmol.js from a CDN; offline that is a silent blank box. We inline a
local copy (npm package ``3dmol`` → ``static/3Dmol-min.js``, copied by ``scripts/setup.sh``)
and pre-resolve py3Dmol's loader promise so the CDN is never asked. Inline HTML is the most
robust choice inside Streamlit's iframe (no static-serving configuration needed).
Nothing here imports streamlit.
"""

from __future__ import annotations

import html
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go
    from pymatgen.core import Structure

REPO = Path(__file__).resolve().parents[1]
Style = Literal["ball-and-stick", "spacefill"]


def js_path() -> Path | None:
    """Local 3Dmol-min.js (``CLAC_3DMOL_JS`` overrides), or None when not installed."""
    candidates = [
        os.environ.get("CLAC_3DMOL_JS", ""),
        REPO / "static" / "3Dmol-min.js",
        REPO / "node_modules" / "3dmol" / "build" / "3Dmol-min.js",
    ]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    return None


@lru_cache(maxsize=2)
def _read_js(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def element_colors() -> dict[str, str]:
    """Element symbol -> Jmol hex colour (pymatgen's colour table)."""
    import pymatgen.vis
    import yaml

    f = Path(pymatgen.vis.__file__).parent / "ElementColorSchemes.yaml"
    table = yaml.safe_load(f.read_text(encoding="utf-8"))["Jmol"]
    return {el: "#{:02x}{:02x}{:02x}".format(*rgb) for el, rgb in table.items()}


def color_of(symbol: str) -> str:
    return element_colors().get(symbol, "#ff1493")


def safe_cif(structure: Structure) -> str:
    """CIF text regenerated from the structure (never the uploaded text, so no user block
    names or comments reach the HTML), with angle brackets removed as a second guard."""
    from pymatgen.io.cif import CifWriter

    text = str(CifWriter(structure))
    return text.replace("<", "").replace(">", "")


def legend_html(structure: Structure) -> str:
    """Small HTML legend of element colours (escaped)."""
    items = []
    for el in sorted({e.symbol for e in structure.composition.elements}):
        items.append(
            f'<span style="display:inline-flex;align-items:center;margin-right:12px">'
            f'<span style="width:14px;height:14px;border-radius:50%;background:{color_of(el)};'
            f'border:1px solid #555;margin-right:4px"></span>{html.escape(el)}</span>'
        )
    return '<div style="font-family:sans-serif;font-size:14px;padding:4px 0">' + "".join(items) + "</div>"


def structure_html(
    structure: Structure,
    *,
    supercell: tuple[int, int, int] = (1, 1, 1),
    style: Style = "ball-and-stick",
    width: int = 640,
    height: int = 420,
    title: str | None = None,
) -> str | None:
    """Self-contained HTML page drawing the crystal with 3Dmol.js, or None when the local
    3Dmol.js copy is missing (callers then use :func:`structure_figure`)."""
    import py3Dmol

    jsf = js_path()
    if jsf is None:
        return None
    view = py3Dmol.view(width=width, height=height)
    view.addModel(safe_cif(structure), "cif")
    for el in sorted({e.symbol for e in structure.composition.elements}):
        col = color_of(el)
        if style == "spacefill":
            view.setStyle({"elem": el}, {"sphere": {"color": col, "scale": 1.0}})
        else:
            view.setStyle({"elem": el}, {"sphere": {"color": col, "scale": 0.3}, "stick": {"radius": 0.12}})
    view.addUnitCell()
    a, b, c = (max(1, int(v)) for v in supercell)
    if (a, b, c) != (1, 1, 1):
        view.replicateUnitCell(a, b, c)
    view.zoomTo()
    view.rotate(-20, "x")  # an oblique view shows all three axes
    view.rotate(25, "y")
    body = view._make_html()
    js = _read_js(str(jsf))
    head = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<style>body{margin:0;background:white}</style></head><body>"
    )
    if title:
        head += f"<div style='font-family:sans-serif;font-size:14px;margin:2px 4px'>{html.escape(title)}</div>"
    # The quirk: py3Dmol only loads from the CDN when $3Dmolpromise is undefined.
    return (
        head
        + f"<script>{js}</script><script>var $3Dmolpromise = Promise.resolve();</script>"
        + body
        + legend_html(structure)
        + "</body></html>"
    )


def structure_figure(structure: Structure, supercell: tuple[int, int, int] = (1, 1, 1)) -> go.Figure:
    """Plotly 3D scatter of the (super)cell with the cell box: the fallback viewer."""
    import numpy as np
    import plotly.graph_objects as go

    s = structure.copy()
    if tuple(supercell) != (1, 1, 1):
        s.make_supercell(list(supercell))
    fig = go.Figure()
    xyz = s.cart_coords
    syms = np.array([site.specie.symbol for site in s])
    for el in sorted(set(syms)):
        m = syms == el
        fig.add_trace(
            go.Scatter3d(
                x=xyz[m, 0],
                y=xyz[m, 1],
                z=xyz[m, 2],
                mode="markers",
                name=el,
                marker={"size": 8, "color": color_of(el), "line": {"width": 1, "color": "#333"}},
            )
        )
    m = s.lattice.matrix
    corners = [np.array(v) @ m for v in np.ndindex(2, 2, 2)]
    ex, ey, ez = [], [], []
    for i, p in enumerate(np.ndindex(2, 2, 2)):
        for j, q in enumerate(np.ndindex(2, 2, 2)):
            if j > i and sum(abs(np.subtract(p, q))) == 1:
                for arr, k in ((ex, 0), (ey, 1), (ez, 2)):
                    arr += [corners[i][k], corners[j][k], None]
    fig.add_trace(go.Scatter3d(x=ex, y=ey, z=ez, mode="lines", line={"color": "black"}, name="cell"))
    fig.update_layout(scene={"aspectmode": "data"}, margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=420)
    return fig
