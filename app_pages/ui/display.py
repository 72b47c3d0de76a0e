"""Display helpers for the app: text from data made safe, property columns with units.

Nothing here imports streamlit. Every string that comes from a file, a CSV or a user (ids,
formulas, file names, column names, descriptions) passes through :func:`md_escape` before it
reaches a Markdown renderer (``st.markdown``, captions, headings, alerts, ``st.table`` cells,
widget labels) and through :func:`html_escape` before it reaches HTML (the 3D viewer page,
plotly labels). Why both: ``html.escape`` leaves Markdown intact, so
``![x](https://evil.example/t.png)`` in a crystal id became an image the browser fetched
(issue 13); backslash-escaping every ASCII punctuation character (CommonMark allows it for all
of them) turns links, images, emphasis, headings, GFM autolinks (``https\\://``) and
Streamlit's ``:color[...]`` directives into plain text.
"""

from __future__ import annotations

import html
import math
import re
import string
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from clac_core.properties import COLUMN_ALIASES, PREDICTED_PREFIX, QUANTITIES
from clac_core.query.structure import structure_words

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MISSING = "—"  # shown where a property is unknown

_PUNCT = frozenset(string.punctuation)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def plain(value: Any, max_len: int | None = None) -> str:
    """One line of text: control characters and line breaks become spaces, optionally cut
    (with "…") to ``max_len`` characters."""
    s = "" if value is None else str(value)
    s = " ".join(_CONTROL.sub(" ", s).split())
    if max_len is not None and len(s) > max_len:
        s = s[: max(max_len - 1, 0)] + "…"
    return s


_ZWSP = "\u200b"
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(?=//)")
_WWW = re.compile(r"(?i)\b(www)\.")


def md_escape(value: Any, max_len: int | None = None) -> str:
    """Text from data, safe in Markdown (and in Streamlit's HTML-free Markdown): renders as
    the characters given, never as a link, image, emphasis, heading or directive.

    Backslash escapes are not enough for bare URLs: Streamlit's GFM autolinker runs on the
    text after escapes are resolved (``https\\://evil.example`` still became a link in
    Chromium). A zero-width space after ``scheme:``, ``www`` and ``@`` breaks the URL and
    e-mail patterns without changing what the reader sees.
    """
    s = plain(value, max_len)
    s = _SCHEME.sub(lambda m: m.group(1) + ":" + _ZWSP, s)
    s = _WWW.sub(lambda m: m.group(1) + _ZWSP + ".", s)
    s = s.replace("@", "@" + _ZWSP)
    return "".join("\\" + c if c in _PUNCT else c for c in s)


def html_escape(value: Any, max_len: int | None = None) -> str:
    """Text from data, safe inside HTML and plotly labels (which render ``<a href>``)."""
    return html.escape(plain(value, max_len), quote=True)


# ---------------------------------------------------------------------- machine paths

# An absolute path of the machine that built the assets (/work/..., /tmp/..., ~/..., C:\...):
# a slash not preceded by a word character, ':', '/' or '.', so URLs and units (g/cm³) stay.
_ABS_PATH = re.compile(r"(?<![\w:/.~\\])(?:~|[A-Za-z]:)?(?:[/\\][^\s/\\'\"`,;()\[\]<>]+)+[/\\]?")
_PATH_KEY = re.compile(r"(?i)(dir|path|file|checkpoint|root)$")  # keys whose value is a location
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def _last_part(path: str) -> str:
    return re.split(r"[/\\]", path.rstrip("/\\"))[-1] or path


def hide_paths(value: Any) -> Any:
    """``value`` (a string, or dicts and lists of them) with every absolute path replaced by its
    last part (``/work/main/data/full`` -> ``full``), and the value of a location key
    (``data_dir``, ``checkpoint`` ...) by its last part even when relative: the pages never show
    where the machine that built the assets kept its files (issue 19)."""
    if isinstance(value, str):
        return _ABS_PATH.sub(lambda m: _last_part(m.group()), value)
    if isinstance(value, dict):
        return {
            k: _last_part(v) if isinstance(v, str) and _PATH_KEY.search(str(k)) and ("/" in v or "\\" in v)
            else hide_paths(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [hide_paths(v) for v in value]
    return value


def split_images(markdown: str) -> list[str | tuple[str, str]]:
    """Markdown cut at its images: text parts, and (alt text, target) for each ``![alt](target)``.

    A relative image target in ``st.markdown`` makes the browser ask the Streamlit server for
    it, which answers with the app's HTML (a broken image): pages draw images themselves.
    """
    parts: list[str | tuple[str, str]] = []
    pos = 0
    for m in _IMAGE.finditer(markdown):
        parts.append(markdown[pos:m.start()])
        parts.append((m.group(1), m.group(2)))
        pos = m.end()
    parts.append(markdown[pos:])
    return [p for p in parts if not isinstance(p, str) or p.strip()]


MP_CREDIT = (
    "Crystal data: the Materials Project (CC BY 4.0; A. Jain et al., APL Materials 1, 011002, 2013), "
    "through the MEGNet benchmark release (mp_37k)."
)


def corpus_credit(sources: Iterable[str]) -> str | None:
    """The credit a corpus with these source names owes (:data:`MP_CREDIT`), or None."""
    return MP_CREDIT if any("mp_37k" in str(k) or "materials project" in str(k).lower() for k in sources) else None


# ---------------------------------------------------------------------- properties

# Display order; any other known quantity follows in the order of QUANTITIES.
PROPERTY_ORDER: tuple[str, ...] = (
    "band_gap",
    "indirect_gap",
    "direct_gap",
    "formation_energy_per_atom",
    "total_magnetization",
    "efermi",
    "bulk_modulus",
    "shear_modulus",
    "poisson_ratio",
    "energy_per_atom",
    "heat_of_formation",
    "density",
)
GAP_QUANTITIES: tuple[str, ...] = ("band_gap", "indirect_gap", "direct_gap")
FORMATION_QUANTITIES: tuple[str, ...] = ("formation_energy_per_atom", "heat_of_formation")
MAGNETIZATION_QUANTITIES: tuple[str, ...] = ("total_magnetization",)


def quantity_of(column: str) -> str | None:
    """Canonical quantity name of a metadata column (``K_VRH`` -> ``bulk_modulus``), or None."""
    if column in QUANTITIES:
        return column
    alias = COLUMN_ALIASES.get(column)
    return alias if alias in QUANTITIES else None


def property_label(column: str) -> str:
    """Column header with unit: ``band gap (eV)``; unknown columns keep their (cleaned) name."""
    q = quantity_of(column)
    if q is None:
        return plain(column)
    quantity = QUANTITIES[q]
    return f"{quantity.label} ({quantity.unit})" if quantity.unit else quantity.label


def property_columns(md: pd.DataFrame, *, known_only: bool = True) -> list[str]:
    """Metadata columns holding a known quantity, in display order.

    Args:
        md: index metadata (or a results frame).
        known_only: keep only columns with at least one value.
    """
    rank = {q: i for i, q in enumerate(PROPERTY_ORDER + tuple(QUANTITIES))}
    cols = [c for c in md.columns if quantity_of(str(c)) is not None]
    if known_only:
        cols = [c for c in cols if md[c].notna().any()]
    return sorted(cols, key=lambda c: rank[quantity_of(str(c)) or ""])


def columns_for(md: pd.DataFrame, quantities: Iterable[str]) -> list[str]:
    """The metadata columns (with values) that hold one of ``quantities``, in that order."""
    by_q = {quantity_of(str(c)): c for c in property_columns(md)}
    return [by_q[q] for q in quantities if q in by_q]


def value_range(md: pd.DataFrame, column: str) -> tuple[float, float]:
    """(min, max) of the finite values of a column, widened to a non-empty interval."""
    import numpy as np
    import pandas as pd

    v = pd.to_numeric(md[column], errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-9:
        hi = lo + 1.0
    return math.floor(lo * 100) / 100, math.ceil(hi * 100) / 100


# Identity first, then the numbers a search is about, then the remaining symmetry and structure:
# a wide table scrolls sideways, and what a reader needs stays in the first screen.
RESULT_COLUMNS: dict[str, str] = {
    "rank": "rank",
    "similarity": "similarity",
    "formula": "formula",
    "crystal_id": "crystal id",
    "spacegroup_symbol": "space group",
}
TRAILING_COLUMNS: dict[str, str] = {
    "crystal_system": "crystal system",
    "spacegroup_number": "SG #",
    "nsites": "sites",
}


def results_table(df: pd.DataFrame, props: Sequence[str]) -> pd.DataFrame:
    """What a user reads of search hits: rank, (score,) similarity, formula, crystal id, space
    group, every known property with its unit in the header (NaN where unknown), the model's
    predicted values, then crystal system, SG #, sites, structure type, structure words and the source.

    Property columns stay numeric, so a table sorts by them and a CSV export keeps them.
    """
    import pandas as pd

    out = pd.DataFrame(index=df.index)
    for col, label in RESULT_COLUMNS.items():
        if col in df.columns:
            out[label] = df[col].map(plain) if col in ("formula", "crystal_id") else df[col]
    if "similarity" in out:
        out["similarity"] = out["similarity"].astype(float).round(3)
    if "score" in df.columns:  # property-aware search: the fused score the rows are ranked by
        out.insert(1, "score", df["score"].astype(float).round(3))
    for c in props:
        vals = pd.to_numeric(df[c], errors="coerce") if c in df.columns else pd.Series(float("nan"), index=df.index)
        out[property_label(c)] = vals.astype(float)
    for c in predicted_columns(df):  # the model's estimates, always labelled as predicted
        out[predicted_label(c)] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for col, label in TRAILING_COLUMNS.items():
        if col in df.columns:
            out[label] = df[col]
    if "structure_type" in df.columns:  # indexes built (or updated) since the column: "perovskite", "" none
        out["structure type"] = [v if isinstance(v, str) else "" for v in df["structure_type"]]
    if "dimensionality" in df.columns or "cation_polyhedra" in df.columns:  # indexes built since issue 19
        dims = df["dimensionality"] if "dimensionality" in df.columns else [None] * len(df)
        polys = df["cation_polyhedra"] if "cation_polyhedra" in df.columns else [""] * len(df)
        out["structure"] = [structure_words(d, p) for d, p in zip(dims, polys, strict=True)]
    if "source" in df.columns:
        out["source"] = df["source"].map(plain)
    return out.reset_index(drop=True)


def predicted_columns(df: pd.DataFrame) -> list[str]:
    """``predicted_<quantity>`` columns (the model's aux-head estimates), in display order."""
    rank = {q: i for i, q in enumerate(PROPERTY_ORDER + tuple(QUANTITIES))}
    cols = [c for c in df.columns if str(c).startswith(PREDICTED_PREFIX) and str(c)[len(PREDICTED_PREFIX):] in QUANTITIES]
    return sorted(cols, key=lambda c: rank[str(c)[len(PREDICTED_PREFIX):]])


def predicted_label(column: str) -> str:
    """``predicted band gap (eV)`` for ``predicted_band_gap``."""
    return f"predicted {property_label(column[len(PREDICTED_PREFIX):])}"


def table_formats(columns: Iterable[str]) -> dict[str, str]:
    """Display format per column of a :func:`results_table` (decimals from
    :data:`QUANTITIES` for property headers, 3 for similarity)."""
    by_label = {property_label(q): f"{{:.{quantity.decimals}f}}" for q, quantity in QUANTITIES.items()}
    by_label.update({f"predicted {property_label(q)}": f"{{:.{quantity.decimals}f}}" for q, quantity in QUANTITIES.items()})
    by_label["similarity"] = "{:.3f}"
    by_label["score"] = "{:.3f}"
    return {c: by_label[c] for c in columns if c in by_label}
