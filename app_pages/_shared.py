"""Streamlit-side helpers shared by the pages: cached loaders, sidebar, filters, 3D view.

All model/index logic lives in ``clac_core.inference``; this module only renders.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from clac_core.index import CRYSTAL_SYSTEMS, CorpusIndex, SearchFilters
from clac_core.inference import (
    Explorer,
    default_checkpoint,
    default_index,
    docs_info,
    list_indexes,
    load_model,
    loaded_info,
)

INDEX_KEY = "clac_index_dir"

# Loading is split so that each page pays only for what it uses: Home and the sidebar read
# JSON files (no torch), the 3D viewer needs the index only, and the pages that embed text or
# crystals load the model (torch + transformers, several seconds on 2 cores) on first use.


@st.cache_data(show_spinner=False, max_entries=16)
def _loaded_info(checkpoint: str, index_dir: str, stamp: tuple[float, ...]) -> dict[str, Any]:
    return loaded_info(checkpoint, index_dir)  # stamp (file mtimes) re-reads a rewritten index


def _stamp(*files: Path) -> tuple[float, ...]:
    return tuple(f.stat().st_mtime if f.exists() else 0.0 for f in files)


@st.cache_resource(show_spinner="Loading the CLaC model…")
def _load_model(checkpoint: str) -> Any:
    return load_model(checkpoint)  # one model per process, shared by every index


@st.cache_resource(show_spinner="Loading the corpus index…")
def _load_index(index_dir: str) -> CorpusIndex:
    return CorpusIndex.load(index_dir)


@st.cache_resource(show_spinner=False)
def _explorer_for(checkpoint: str, index_dir: str) -> Explorer:
    model, index = _load_model(checkpoint), _load_index(index_dir)
    return Explorer(model, index, checkpoint=Path(checkpoint), index_dir=Path(index_dir))


def current_index_dir() -> str:
    return st.session_state.get(INDEX_KEY) or str(default_index())


def _fail(what: str, exc: Exception) -> None:
    st.error(f"Could not load the {what}: {html.escape(str(exc))}")
    st.stop()


def get_info() -> dict[str, Any]:
    """What is loaded (checkpoint + index files; no model), or an error message and st.stop()."""
    ck, ix = default_checkpoint(), Path(current_index_dir())
    try:
        info = dict(_loaded_info(str(ck), str(ix), _stamp(ck / "config.json", ix / "manifest.json", ix / "embeddings.npy")))
        info.update(docs_info())  # model card + eval results: two small files, always current
        return info
    except Exception as exc:  # show, do not crash the page
        _fail("model or index", exc)
        raise  # pragma: no cover


def get_index() -> CorpusIndex:
    """The selected corpus index without the model (pages that only look crystals up)."""
    try:
        return _load_index(current_index_dir())
    except Exception as exc:
        _fail("corpus index", exc)
        raise  # pragma: no cover


def get_explorer() -> Explorer:
    """The loaded Explorer (model + selected index), or an error message and st.stop()."""
    try:
        return _explorer_for(str(default_checkpoint()), current_index_dir())
    except Exception as exc:
        _fail("model or index", exc)
        raise  # pragma: no cover


def sidebar() -> None:
    """What is loaded + corpus index selector (shared by all pages; reads files, loads no model)."""
    with st.sidebar:
        st.markdown("### CLaC Explorer")
        indexes = list_indexes()
        if not indexes:
            st.error("No corpus index found. Run `python scripts/make_assets.py --random-init --out assets/`.")
            return
        labels = list(indexes)
        cur = current_index_dir()
        paths = [str(p) for p in indexes.values()]
        pos = paths.index(cur) if cur in paths else 0
        choice = st.selectbox("Corpus index", labels, index=pos, key="sidebar_index")
        st.session_state[INDEX_KEY] = str(indexes[choice])
        try:
            info = get_info()
        except Exception:  # get_info already reported
            return
        if info["untrained"]:
            st.warning("UNTRAINED model (random weights): results are placeholders.", icon=":material/warning:")
        st.caption(
            f"Model `{html.escape(Path(info['checkpoint']).name)}` · hash `{info['checkpoint_hash']}`  \n"
            f"{info['crystals']:,} crystals · {info['descriptions']:,} descriptions · {info['embed_dim']}-d"
        )
        if not info["index_matches_model"]:
            st.error("This index was built with a different checkpoint; similarities are meaningless.")


def filters_ui(ex: Explorer, prefix: str) -> SearchFilters:
    """Filter widgets (keys prefixed by page) -> SearchFilters."""
    md = ex.index.metadata
    c1, c2, c3, c4 = st.columns(4)
    must = c1.text_input("Must contain elements", key=f"{prefix}_must", placeholder="e.g. O, Ti")
    must_not = c2.text_input("Must not contain", key=f"{prefix}_mustnot", placeholder="e.g. Pb")
    systems = c3.multiselect("Crystal system", list(CRYSTAL_SYSTEMS), key=f"{prefix}_sys")
    sources = c4.multiselect("Source", sorted(md["source"].unique()), key=f"{prefix}_src")
    d1, d2, d3 = st.columns(3)
    nmax = int(md["nsites"].max()) if len(md) else 1
    ns = d1.slider("Sites in cell", 1, max(nmax, 2), (1, max(nmax, 2)), key=f"{prefix}_nsites")
    has_gap = "band_gap" in md.columns and md["band_gap"].notna().any()
    gap: tuple[float | None, float | None] = (None, None)
    if has_gap:
        use_gap = d2.checkbox("Filter by band gap (drops unknown)", key=f"{prefix}_usegap")
        if use_gap:
            gmax = float(max(md["band_gap"].max(), 0.5))
            gap = d2.slider("Band gap (eV)", 0.0, gmax, (0.0, gmax), key=f"{prefix}_gap")
    else:
        d2.caption("No band gaps known in this corpus.")
    hypo = d3.checkbox("Include hypothetical (decorated) crystals", value=True, key=f"{prefix}_hypo")

    def _split(s: str) -> list[str]:
        return [t.strip() for t in s.replace(";", ",").replace(" ", ",").split(",") if t.strip()]

    return SearchFilters(
        must_contain=_split(must),
        must_not_contain=_split(must_not),
        crystal_systems=systems,
        band_gap=gap,
        nsites=(ns[0], ns[1]),
        sources=sources,
        include_hypothetical=hypo,
    )


def selected_points(points: pd.DataFrame, selection: list[Any]) -> pd.DataFrame:
    """Rows of a map frame (``modality``, ``row`` columns) picked in a plotly selection.

    The chart's ``custom_data`` is (modality, row), which names a point exactly; hover labels do
    not (formulas and texts repeat). Points without it (projected queries) are ignored.
    """
    keys = {(str(cd[0]), int(cd[1])) for p in selection if len(cd := (p.get("customdata") or [])) >= 2}
    mask = pd.Series(False, index=points.index)
    for modality in {m for m, _ in keys}:
        rows = [r for m, r in keys if m == modality]
        mask |= (points["modality"] == modality) & points["row"].isin(rows)
    return points[mask]


def display_table(ex: Explorer, df: pd.DataFrame) -> pd.DataFrame:
    """The columns a user reads: rank, similarity, formula, space group, system, properties."""
    cols = ["rank", "similarity", "formula", "spacegroup_symbol", "spacegroup_number", "crystal_system", "nsites"]
    cols += [c for c in ex.index.property_columns() if c in df.columns and df[c].notna().any()]
    cols += ["source", "crystal_id"]
    out = df[[c for c in cols if c in df.columns]].copy()
    if "similarity" in out:
        out["similarity"] = out["similarity"].round(3)
    return out.rename(columns={"spacegroup_symbol": "space group", "spacegroup_number": "SG #",
                               "crystal_system": "crystal system"})


def show_structure(structure: Any, *, key: str, title: str = "", height: int = 440) -> None:
    """3D view of a structure with style/supercell controls; plotly fallback without 3Dmol.js."""
    from clac_core.viewer3d import structure_figure, structure_html

    c1, c2 = st.columns([1, 1])
    style = c1.radio("Style", ["ball-and-stick", "spacefill"], horizontal=True, key=f"{key}_style")
    rep = c2.select_slider("Supercell repeats", options=[1, 2, 3], value=1, key=f"{key}_rep")
    page = structure_html(structure, supercell=(rep, rep, rep), style=style, height=height - 40, title=title)
    if page is not None:
        st.iframe(page, height=height)
    else:
        st.info("Local 3Dmol.js not installed (run `npm install`, see scripts/setup.sh): showing a plotly view.")
        st.plotly_chart(structure_figure(structure, (rep, rep, rep)), key=f"{key}_plotly")


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


def cif_text(structure: Any) -> str:
    try:
        from clac_core.io import structure_to_cif

        return structure_to_cif(structure)
    except ImportError:
        from pymatgen.io.cif import CifWriter

        return str(CifWriter(structure))
