"""The Embedding map's points with their hover text: built once per index, in the background.

The 2D coordinates come from the map cached at index build (``clac_core.inference``); the hover
text of ~50k points took 0.6-1.9 s of Python, the largest part of the map's first render, so
:mod:`app_pages.ui.loaders` starts it with the model and index when the server starts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from app_pages.ui.display import (
    FORMATION_QUANTITIES,
    GAP_QUANTITIES,
    columns_for,
    html_escape,
    property_label,
    table_formats,
)
from clac_core.inference import CorpusIndex, corpus_map_points


def hover_text(pts: pd.DataFrame) -> pd.Series:
    """Hover of each point: formula, crystal system, source and the key properties where known
    (a crystal); the text and its view (a description). HTML-escaped."""
    crystal = pts["modality"] == "crystal"
    source = pts["source"].map(lambda v: html_escape(v, 60))
    what = (pts["crystal_system"].map(lambda v: html_escape(v, 30)) + " · " + source).where(
        crystal, "description · " + source)
    hover = pts["label"].map(lambda v: html_escape(v, 120)) + "<br>" + what
    for c in columns_for(pts, GAP_QUANTITIES[:1] + FORMATION_QUANTITIES[:1]):
        label = property_label(c)
        fmt = table_formats([label]).get(label, "{:.3f}")
        values = pd.to_numeric(pts[c], errors="coerce")
        line = values.map(lambda v, label=label, fmt=fmt: "" if pd.isna(v) else f"<br>{html_escape(label)}: {fmt.format(v)}")
        hover = hover + line.where(crystal, "")
    return hover


def map_frame(index: CorpusIndex, index_dir: str | Path) -> pd.DataFrame:
    """Every point of the index's map (see ``Explorer.umap_coords`` for the columns) with a
    ``hover`` column."""
    pts = corpus_map_points(index, Path(index_dir))
    return pts.assign(hover=hover_text(pts))
