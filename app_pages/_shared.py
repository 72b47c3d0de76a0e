"""Streamlit-side helpers shared by the pages: cached loaders, sidebar, filters, 3D view.

All model/index logic lives in ``clac_core.inference``; this module only renders.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from clac_core.display import (
    FORMATION_QUANTITIES,
    GAP_QUANTITIES,
    MAGNETIZATION_QUANTITIES,
    MISSING,
    columns_for,
    md_escape,
    property_columns,
    property_label,
    results_table,
    table_formats,
    value_range,
)
from clac_core.index import CorpusIndex, SearchFilters
from clac_core.inference import (
    Explorer,
    default_checkpoint,
    default_index,
    docs_info,
    index_stamp,
    list_indexes,
    load_model,
    loaded_info,
)
from clac_core.symmetry import CRYSTAL_SYSTEMS_HIGH_FIRST

INDEX_KEY = "clac_index_dir"
PENDING_INDEX_KEY = "clac_pending_index"  # a label the sidebar selects on its next run
SESSION_KEY = "clac_session"

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
def _load_index(index_dir: str, stamp: str) -> CorpusIndex:
    # ``stamp`` (inference.index_stamp) is part of the cache key: a rebuilt index is reloaded
    return CorpusIndex.load(index_dir)


@st.cache_resource(show_spinner=False)
def _explorer_for(checkpoint: str, index_dir: str, stamp: str) -> Explorer:
    model, index = _load_model(checkpoint), _load_index(index_dir, stamp)
    return Explorer(model, index, checkpoint=Path(checkpoint), index_dir=Path(index_dir))


@st.cache_resource(show_spinner=False)
def favicon() -> Any:
    """A 64 px blue diamond drawn here (no file, no font host, no CDN)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(img).polygon([(32, 2), (62, 32), (32, 62), (2, 32)], fill=(31, 111, 235, 255))
    return img


def session_token() -> str:
    """A random token naming this browser session's private index folder."""
    if SESSION_KEY not in st.session_state:
        st.session_state[SESSION_KEY] = secrets.token_hex(12)
    return st.session_state[SESSION_KEY]


def session_indexes() -> dict[str, Path]:
    """Indexes this session may open: default, assets, shared and its own."""
    return list_indexes(session_token())


def current_index_dir() -> str:
    return st.session_state.get(INDEX_KEY) or str(default_index())


def select_index(path: Path) -> None:
    """Make ``path`` the sidebar's selection and rerun.

    The sidebar's selectbox has already been drawn when a page builds an index, and Streamlit
    forbids setting a drawn widget's value in the same run; so the label is parked in the
    session state and applied before the selectbox is drawn on the rerun (issue 12, point 2).
    """
    labels = {str(p): label for label, p in session_indexes().items()}
    label = labels.get(str(path))
    if label is not None:
        st.session_state[PENDING_INDEX_KEY] = label
        st.session_state[INDEX_KEY] = str(path)
    st.rerun()


def _fail(what: str, exc: Exception) -> None:
    st.error(f"Could not load the {what}: {md_escape(exc)}")
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
        ix = current_index_dir()
        return _load_index(ix, index_stamp(ix))
    except Exception as exc:
        _fail("corpus index", exc)
        raise  # pragma: no cover


def get_explorer() -> Explorer:
    """The loaded Explorer (model + selected index), or an error message and st.stop()."""
    try:
        ix = current_index_dir()
        return _explorer_for(str(default_checkpoint()), ix, index_stamp(ix))
    except Exception as exc:
        _fail("model or index", exc)
        raise  # pragma: no cover


def sidebar() -> None:
    """What is loaded + corpus index selector (shared by all pages; reads files, loads no model)."""
    with st.sidebar:
        st.markdown("### CLaC Explorer")
        indexes = session_indexes()
        if not indexes:
            st.error("No corpus index found. Run `python scripts/make_assets.py --random-init --out assets/`.")
            return
        labels = list(indexes)
        pending = st.session_state.pop(PENDING_INDEX_KEY, None)
        if pending in indexes:
            st.session_state["sidebar_index"] = pending  # allowed: the widget is not drawn yet
        elif st.session_state.get("sidebar_index") not in indexes:
            st.session_state.pop("sidebar_index", None)  # e.g. an index that was removed
        if "sidebar_index" not in st.session_state:
            cur = current_index_dir()
            paths = [str(p) for p in indexes.values()]
            st.session_state["sidebar_index"] = labels[paths.index(cur) if cur in paths else 0]
        # the value lives in the session state only (no index=): Streamlit warns when both are set
        choice = st.selectbox("Corpus index", labels, key="sidebar_index")
        st.session_state[INDEX_KEY] = str(indexes[choice])
        try:
            info = get_info()
        except Exception:  # get_info already reported
            return
        if info["untrained"]:
            st.warning("UNTRAINED model (random weights): results are placeholders.", icon=":material/warning:")
        st.caption(
            f"Model {md_escape(Path(info['checkpoint']).name)} · hash {md_escape(info['checkpoint_hash'])}  \n"
            f"{info['crystals']:,} crystals · {info['descriptions']:,} descriptions · {info['embed_dim']}-d"
        )
        if not info["index_matches_model"]:
            st.error("This index was built with a different checkpoint; similarities are meaningless.")


def _range_filter(container: Any, md: pd.DataFrame, column: str, prefix: str, what: str) -> tuple[float, float] | None:
    """Checkbox + slider over one property column; None when not filtering."""
    label = property_label(column)
    on = container.checkbox(f"Filter by {what} (drops unknown)", key=f"{prefix}_use_{column}")
    if not on:
        return None
    lo, hi = value_range(md, column)
    step = 0.01 if hi - lo <= 20 else 0.1
    val = container.slider(label, lo, hi, (lo, hi), step=step, key=f"{prefix}_rng_{column}")
    return float(val[0]), float(val[1])


def filters_ui(ex: Explorer, prefix: str) -> SearchFilters:
    """Filter widgets (keys prefixed by page) -> SearchFilters.

    Property filters use whichever columns the index mapped: any gap column (``band_gap``,
    ``indirect_gap``, ``direct_gap``), a formation energy and the total magnetization.
    """
    md = ex.index.metadata
    c1, c2, c3, c4 = st.columns(4)
    must = c1.text_input("Must contain elements", key=f"{prefix}_must", placeholder="e.g. O, Ti")
    must_not = c2.text_input("Must not contain", key=f"{prefix}_mustnot", placeholder="e.g. Pb")
    systems = c3.multiselect("Crystal system", list(CRYSTAL_SYSTEMS_HIGH_FIRST), key=f"{prefix}_sys")
    sources = c4.multiselect("Source", sorted(md["source"].astype(str).unique()), key=f"{prefix}_src")
    d1, d2, d3, d4 = st.columns(4)
    nmax = int(md["nsites"].max()) if len(md) else 1
    ns = d1.slider("Sites in cell", 1, max(nmax, 2), (1, max(nmax, 2)), key=f"{prefix}_nsites")
    hypo_known = bool(md["hypothetical"].any()) if "hypothetical" in md.columns else False
    hypo = d1.checkbox(
        "Include hypothetical (decorated) crystals", value=False, key=f"{prefix}_hypo", disabled=not hypo_known,
        help=None if hypo_known else "This corpus has no hypothetical crystals.",
    )
    ranges: dict[str, tuple[float | None, float | None]] = {}
    gaps = columns_for(md, GAP_QUANTITIES)
    if gaps:
        gap_col = gaps[0]
        if len(gaps) > 1:
            gap_col = d2.selectbox("Gap column", gaps, format_func=property_label, key=f"{prefix}_gapcol")
        if (r := _range_filter(d2, md, gap_col, prefix, "band gap")) is not None:
            ranges[gap_col] = r
    else:
        d2.caption("No band gaps known in this corpus.")
    form = columns_for(md, FORMATION_QUANTITIES)
    if form:
        if (r := _range_filter(d3, md, form[0], prefix, "formation energy")) is not None:
            ranges[form[0]] = r
    else:
        d3.caption("No formation energies known in this corpus.")
    mag = columns_for(md, MAGNETIZATION_QUANTITIES)
    if mag:
        if (r := _range_filter(d4, md, mag[0], prefix, "magnetization")) is not None:
            ranges[mag[0]] = r
    else:
        d4.caption("No magnetizations known in this corpus.")

    def _split(s: str) -> list[str]:
        return [t.strip() for t in s.replace(";", ",").replace(" ", ",").split(",") if t.strip()]

    return SearchFilters(
        must_contain=_split(must),
        must_not_contain=_split(must_not),
        crystal_systems=systems,
        nsites=(ns[0], ns[1]),
        sources=sources,
        include_hypothetical=hypo or not hypo_known,
        property_ranges=ranges,
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
    """The columns a user reads: rank, similarity, formula, symmetry, every property the index
    knows (unit in the header, NaN where unknown: numeric, so sorting and CSV keep working)."""
    return results_table(df, property_columns(ex.index.metadata))


def show_results(table: pd.DataFrame, *, key: str, **kwargs: Any) -> Any:
    """st.dataframe of a :func:`display_table`: properties to their decimals, "—" where
    unknown (a Styler only changes what is shown; the values stay numbers for sorting)."""
    styled = table.style.format(table_formats(table.columns), na_rep=MISSING)
    cfg = {c: st.column_config.TextColumn(c, width="medium") for c in ("source", "crystal id") if c in table.columns}
    # the grid draws missing cells itself ("None") whatever the Styler says: placeholder= sets it
    return st.dataframe(styled, hide_index=True, key=key, column_config=cfg, width="stretch",
                        placeholder=MISSING, **kwargs)


CELLS = {"conventional": "Conventional standard cell", "primitive": "Primitive cell", "as given": "Cell as stored"}


def show_structure(structure: Any, *, key: str, title: str = "", height: int = 440) -> Any:
    """3D view with cell/style/supercell controls and CIF + POSCAR downloads of the shown cell;
    plotly fallback without 3Dmol.js. Returns the structure shown (in the chosen cell)."""
    from clac_core.viewer3d import (
        cell_for_view,
        poscar_text,
        structure_figure,
        structure_html,
        symmetrized_cif,
    )

    c1, c2, c3 = st.columns([2, 2, 1])
    cell = c1.radio("Cell", list(CELLS), format_func=CELLS.get, horizontal=True, key=f"{key}_cell")
    style = c2.radio("Style", ["ball-and-stick", "spacefill"], horizontal=True, key=f"{key}_style")
    rep = c3.select_slider("Supercell repeats", options=[1, 2, 3], value=1, key=f"{key}_rep")
    shown = cell_for_view(structure, cell)
    page = structure_html(shown, supercell=(rep, rep, rep), style=style, height=height - 40, title=title)
    if page is not None:
        st.iframe(page, height=height)
    else:
        st.info("Local 3Dmol.js not installed (run `npm install`, see scripts/setup.sh): showing a plotly view.")
        st.plotly_chart(structure_figure(shown, (rep, rep, rep)), key=f"{key}_plotly")
    name = shown.composition.reduced_formula
    d1, d2, d3 = st.columns([1, 1, 3])
    d1.download_button(
        "Download CIF (symmetrized)", symmetrized_cif(shown).encode(), file_name=f"{name}.cif",
        mime="chemical/x-cif", key=f"{key}_cif", help="Space group kept: symmetry-distinct sites plus operations.",
    )
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
