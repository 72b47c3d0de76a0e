"""Result tables (the columns a user reads, formatted) and points picked on the map."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app_pages.ui.display import MISSING, property_columns, results_table, table_formats
from clac_core.inference import Explorer


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
