"""One crystal on a page: the 3D view with cell, style and supercell controls, downloads, and
the lattice and site tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

STATIC_JS = Path(__file__).resolve().parents[2] / "static" / "3Dmol-min.js"
CELLS = {"conventional": "Conventional standard cell", "primitive": "Primitive cell", "as given": "Cell as stored"}


def script_src() -> str | None:
    """URL of the app's static 3Dmol.js copy as the viewer iframe resolves it, or None (inline
    the library) when static serving is off or the copy is missing. Relative, so it also works
    under a ``server.baseUrlPath``: a srcdoc iframe resolves URLs against the app page."""
    if STATIC_JS.is_file() and st.get_option("server.enableStaticServing"):
        return "app/static/3Dmol-min.js"
    return None


def show_structure(structure: Any, *, key: str, title: str = "", height: int = 440) -> Any:
    """3D view with cell/style/supercell controls and CIF + POSCAR downloads of the shown cell;
    plotly fallback without 3Dmol.js. Returns the structure shown (in the chosen cell)."""
    from app_pages.ui.viewer3d import (
        cell_for_view,
        poscar_text,
        structure_figure,
        structure_html,
        symmetrized_cif,
    )
    from clac_core.inference import structure_to_cif

    c1, c2, c3 = st.columns([2, 2, 1])
    cell = c1.radio("Cell", list(CELLS), format_func=CELLS.get, horizontal=True, key=f"{key}_cell")
    style = c2.radio("Style", ["ball-and-stick", "spacefill"], horizontal=True, key=f"{key}_style")
    rep = c3.select_slider("Supercell repeats", options=[1, 2, 3], value=1, key=f"{key}_rep")
    shown = cell_for_view(structure, cell)
    page = structure_html(shown, supercell=(rep, rep, rep), style=style, height=height - 40, title=title,
                          script_src=script_src())
    if page is not None:
        st.iframe(page, height=height)
    else:
        st.info("Local 3Dmol.js not installed (run `npm install`, see scripts/setup.sh): showing a plotly view.")
        st.plotly_chart(structure_figure(shown, (rep, rep, rep)), key=f"{key}_plotly")
    name = shown.composition.reduced_formula
    d1, d2, d3 = st.columns([1, 1, 3])
    if cell == "conventional":
        cif = symmetrized_cif(shown)
        label, tip = "Download CIF (symmetrized)", "The cell shown with its space group: distinct sites plus operations."
    else:  # a symmetrized CIF is always in the conventional setting: P1 keeps the cell shown, as the POSCAR does
        cif = structure_to_cif(shown)
        label, tip = f"Download CIF ({CELLS[cell].lower()}, P1)", "The cell shown, every site listed (space group P1)."
    d1.download_button(label, cif.encode(), file_name=f"{name}.cif", mime="chemical/x-cif", key=f"{key}_cif", help=tip)
    d2.download_button(
        "Download POSCAR", poscar_text(shown).encode(), file_name=f"{name}.vasp", mime="text/plain",
        key=f"{key}_poscar", help="VASP POSCAR of the cell shown.",
    )
    return shown


def structure_tables(structure: Any) -> None:
    """Lattice parameters and site table."""
    lat = structure.lattice
    st.dataframe(
        pd.DataFrame(
            [{"a (Å)": lat.a, "b (Å)": lat.b, "c (Å)": lat.c, "α (°)": lat.alpha, "β (°)": lat.beta,
              "γ (°)": lat.gamma, "volume (Å³)": lat.volume}]
        ).round(4),
        hide_index=True,
    )
    rows = [
        {"site": i, "element": s.specie.symbol, "x": s.frac_coords[0], "y": s.frac_coords[1], "z": s.frac_coords[2]}
        for i, s in enumerate(structure)
    ]
    st.dataframe(pd.DataFrame(rows).round(4), hide_index=True, height=min(38 * (len(rows) + 1), 300))
