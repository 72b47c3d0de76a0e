"""Search filter widgets (keys prefixed by page) -> :class:`SearchFilters`."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app_pages.ui.display import (
    FORMATION_QUANTITIES,
    GAP_QUANTITIES,
    MAGNETIZATION_QUANTITIES,
    columns_for,
    property_label,
    value_range,
)
from clac_core.inference import Explorer, SearchFilters
from clac_core.symmetry import CRYSTAL_SYSTEMS_HIGH_FIRST


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
