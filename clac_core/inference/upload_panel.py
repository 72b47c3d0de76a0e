"""Everything the Upload page shows about one uploaded crystal, from one forward pass.

The order is the order a user should read it in (issue 19, part 4): first the upload's own
description (its computed facts, then its values, each estimate marked with its test error),
its values beside the DFT values of a corpus crystal with the same reduced formula and space
group number, then the nearest corpus crystals and the nearest corpus descriptions, each
labelled with the corpus crystal it describes (never read as facts about the upload).

Shape legend: D embedding dims, K aux-head quantities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pymatgen.core import Structure

    from clac_core.inference.explorer import Explorer

OWN_VIEWS = ("composition", "structure")  # the views written from computed facts alone


@dataclass
class CorpusMatch:
    """A corpus crystal with the upload's reduced formula and space group number.

    Attributes:
        row: its index row.
        crystal_id: its id.
        values: its known values (DFT, and density of its relaxed structure), by quantity name.
        others: how many further corpus crystals match as well (the nearest one is shown).
    """

    row: int
    crystal_id: str
    values: dict[str, float]
    others: int = 0


@dataclass
class UploadPanel:
    """What the Upload page shows for one structure.

    Attributes:
        label: "formula · space group (number) · crystal system · N sites".
        embedding: (D,) the crystal embedding (find similar, map, export).
        own: (view, text) of the upload's own description, computed facts first, then its
            values (:func:`~clac_core.inference.estimates.values_sentence`).
        own_error: why no description could be written from the facts (None when it could).
        properties: one row per quantity (quantity, value, unit, source, test MAE), plus the
            matching corpus crystal's values when there is one.
        match: the corpus crystal of the same formula and space group, or None.
        nearest: nearest corpus crystals (``CorpusIndex.search`` frame).
        descriptions: nearest corpus descriptions: describes (formula and id of the crystal
            each is about), similarity, view, text.
        zero_shot: task -> DataFrame(label, prompt-softmax score).
    """

    label: str
    formula: str
    spacegroup: str
    embedding: np.ndarray
    own: list[tuple[str, str]]
    own_error: str | None
    properties: pd.DataFrame
    match: CorpusMatch | None
    nearest: pd.DataFrame
    descriptions: pd.DataFrame
    zero_shot: dict[str, pd.DataFrame] = field(default_factory=dict)


def corpus_match(explorer: Explorer, structure: Structure, x: np.ndarray, spacegroup_number: int) -> CorpusMatch | None:
    """The corpus crystal with ``structure``'s reduced formula and space group number nearest
    to its (D,) embedding ``x``, with its known values; None when no corpus crystal matches."""
    idx = explorer.index
    md = idx.metadata
    if "spacegroup_number" not in md:
        return None
    hit = (md["formula"].astype(str) == structure.composition.reduced_formula).to_numpy()
    hit &= pd_numbers(md["spacegroup_number"]) == int(spacegroup_number)
    rows = np.flatnonzero(hit)
    if not len(rows):
        return None
    cos = np.asarray(idx.embeddings[rows], dtype=np.float32) @ np.asarray(x, dtype=np.float32)  # (n,)
    row = int(rows[int(np.argmax(cos))])
    values = {}
    for c in idx.property_columns():
        v = float(idx.property_array(c)[row])
        if math.isfinite(v):
            values[c] = v
    return CorpusMatch(row=row, crystal_id=str(md.iloc[row]["crystal_id"]), values=values, others=len(rows) - 1)


def pd_numbers(values: Any) -> np.ndarray:
    """A metadata column as float numbers (NaN where it is not a number)."""
    import pandas as pd

    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


def labelled_descriptions(explorer: Explorer, x: np.ndarray, k: int) -> pd.DataFrame:
    """The k corpus descriptions nearest to ``x``, each with the crystal it describes first."""
    import pandas as pd

    nd = explorer.index.nearest_descriptions(x, k)
    md = explorer.index.metadata
    ids = nd["crystal_id"].astype(str) if "crystal_id" in nd else pd.Series([""] * len(nd))
    formula = dict(zip(md["crystal_id"].astype(str), md["formula"].astype(str), strict=True)) if len(nd) else {}
    describes = [f"{formula[i]} ({i})" if i in formula else i or "—" for i in ids]
    return pd.DataFrame({
        "describes": describes,
        "similarity": nd["similarity"].astype(float).to_numpy(),
        "view": nd["view"].astype(str).to_numpy(),
        "text": nd["text"].astype(str).to_numpy(),
    })  # fmt: skip


def analyse_upload(explorer: Explorer, structure: Structure, *, k_crystals: int = 8, k_descriptions: int = 5) -> UploadPanel:
    """Everything the Upload page shows about ``structure``, embedded once.

    Raises whatever embedding or symmetry analysis raises (the page shows it beside the file);
    a description that cannot be written from the facts is kept as ``own_error`` instead.
    """
    from clac_core.embed import embed_and_predict_structures
    from clac_core.inference.estimates import (
        beside_corpus,
        property_rows,
        test_errors,
        values_sentence,
    )
    from clac_core.record import CrystalRecord
    from clac_core.text import describe

    sym = explorer.symmetry(structure)
    formula = structure.composition.reduced_formula
    emb, pred = embed_and_predict_structures(explorer.model, [structure], progress=False)
    x = np.asarray(emb[0], dtype=np.float32)  # (D,)
    names = list(getattr(explorer.model.cfg, "aux_properties", []) or [])
    values = list(pred[0]) if names and pred.shape[1] == len(names) else []
    names = names if values else []
    if "density" not in names:  # computed from the structure whatever the model estimates
        names, values = [*names, "density"], [*values, math.nan]
    props = property_rows(names, values, structure, test_errors(explorer.checkpoint))
    match = corpus_match(explorer, structure, x, int(sym["spacegroup_number"]))
    if match is not None and match.values:
        props = beside_corpus(props, match.values, match.crystal_id)
    own: list[tuple[str, str]] = []
    own_error = None
    try:
        rec = CrystalRecord(id="upload", structure=structure, source="upload")
        own = [(d.view, d.text) for d in describe(rec, query_views=False) if d.view in OWN_VIEWS]
    except Exception as exc:  # the facts of an odd cell: say so, keep the rest of the panel
        own_error = str(exc)
    if sentence := values_sentence(props):
        own.append(("values", sentence))
    return UploadPanel(
        label=(f"{formula} · {sym['spacegroup_symbol']} ({sym['spacegroup_number']}) · "
               f"{sym['crystal_system']} · {len(structure)} sites"),
        formula=formula,
        spacegroup=str(sym["spacegroup_symbol"]),
        embedding=x,
        own=own,
        own_error=own_error,
        properties=props,
        match=match,
        nearest=explorer.index.search(x, k_crystals),
        descriptions=labelled_descriptions(explorer, x, k_descriptions),
        zero_shot=explorer.zero_shot(x),
    )  # fmt: skip
