"""Result tables (the columns a user reads, formatted), "Find similar structures" for any
crystal, and points picked on the map."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app_pages.ui.display import MISSING, md_escape, property_columns, results_table, table_formats
from app_pages.ui.filters import filters_ui
from clac_core.inference import Explorer, find_similar


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
    unknown. The formats are column settings the browser applies (the values stay numbers for
    sorting and CSV): no pandas Styler, whose import (~0.7 s on 2 cores) the first results page
    waited for and whose formatted copy of every cell each query sent."""
    cfg: dict[str, Any] = {c: st.column_config.TextColumn(c, width="medium")
                           for c in ("source", "crystal id") if c in table.columns}
    for c, fmt in table_formats(table.columns).items():  # "{:.2f}" -> printf "%.2f"
        cfg[c] = st.column_config.NumberColumn(c, format=fmt.replace("{:", "%").replace("}", ""))
    # the grid draws missing cells itself ("None" by default): placeholder= sets what it draws
    return st.dataframe(table, hide_index=True, key=key, column_config=cfg, width="stretch",
                        placeholder=MISSING, **kwargs)


def download_csv(table: pd.DataFrame, *, key: str, file_name: str) -> None:
    """A "Download CSV" button for a result table (every column shown, NaN cells empty)."""
    st.download_button("Download CSV", table.to_csv(index=False).encode(), file_name=file_name, mime="text/csv",
                       key=key, help="Every column shown, properties included (empty where unknown).")


def similar_panel(ex: Explorer, query: Any, *, key: str, title: str) -> None:
    """A "Find similar structures" button for one crystal; once pressed (until "Hide"), the
    corpus crystals nearest to it by the crystal embedding, with the Search page's filters.

    Args:
        ex: the explorer.
        query: an index row (a corpus crystal), a (D,) crystal embedding or a structure
            (see :func:`clac_core.inference.find_similar`).
        key: widget-key prefix, unique on the page.
        title: what the crystal is called on the page (escaped here).
    """
    flag = f"{key}_open"
    if not st.session_state.get(flag):
        if not st.button("Find similar structures", key=f"{key}_find",
                         help="Corpus crystals nearest to this one in the model's crystal embedding."):
            return
        st.session_state[flag] = True
    with st.container(border=True):
        c_title, c_hide = st.columns([6, 1], vertical_alignment="center")
        c_title.markdown(f"**Structures similar to {md_escape(title, 120)}** (cosine of crystal embeddings)")
        if c_hide.button("Hide", key=f"{key}_hide", width="stretch"):
            st.session_state[flag] = False
            st.rerun()
        k = st.slider("Results", 5, 100, 10, key=f"{key}_k")
        with st.expander("Filters (as on the Search page)"):
            filters = filters_ui(ex, key)
        hits = find_similar(ex, int(query) if isinstance(query, (int, np.integer)) else query, k, filters)
        if hits.empty:
            st.info("No corpus crystal passes these filters: clear some of them.")
            return
        table = display_table(ex, hits)
        show_results(table, key=f"{key}_table")
        download_csv(table, key=f"{key}_csv", file_name="clac_similar.csv")


def figure_html(fig: Any) -> str:
    """A plotly figure as one HTML file that works offline: plotly.js is embedded (~4 MB),
    not fetched from a CDN."""
    return fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})
