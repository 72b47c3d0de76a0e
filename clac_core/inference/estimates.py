"""What the app shows as an uploaded crystal's properties: computed where the structure fixes
the value, bounded where physics bounds it, the model's estimate (with its test error) otherwise.

One row per aux-head quantity, one value per quantity (issue 19: an upload panel you can trust):

* density is computed from the structure (mass / volume), never estimated;
* the formation energy of a one-element structure is 0 eV/atom by definition;
* a band gap is never negative, and a magnetization is bounded by ``MAX_MOMENT_PER_ATOM``
  times the number of atoms (7 μB, the spin-only moment of a half-filled 4f shell, is the
  largest an atom carries);
* everything else is the aux head's estimate, labelled as such, with the shipped model's test
  MAE beside it when the card's ``eval/results.json`` is found next to the checkpoint.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pymatgen.core import Structure

MAX_MOMENT_PER_ATOM = 7.0  # μB
ESTIMATE = "model estimate"
COMPUTED = "computed from the structure"
BY_DEFINITION = "0 by definition (one element)"
NOT_ESTIMATED = "not estimated by this model"
COLUMNS = ["quantity", "value", "unit", "source", "test MAE"]


def dft_column(crystal_id: str) -> str:
    """Header of the column that shows a matching corpus crystal's values."""
    return f"DFT value of {crystal_id}"


def test_errors(checkpoint: str | Path) -> dict[str, float]:
    """Aux-head test MAE per quantity from ``CHECKPOINT/../eval/results.json`` ({} if absent)."""
    path = Path(checkpoint).parent / "eval" / "results.json"
    try:
        aux = json.loads(path.read_text())["property_aware"]["aux_head"]
        return {k: float(v["MAE"]) for k, v in aux.items() if isinstance(v, dict) and "MAE" in v}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def property_rows(
    names: Sequence[str], predicted: Sequence[float], structure: Structure, mae: dict[str, float]
) -> pd.DataFrame:
    """(K,) aux-head outputs in physical units -> one row per quantity: quantity, value, unit,
    source (model estimate / computed / by definition) and the test MAE of estimates."""
    import pandas as pd

    from clac_core.properties import QUANTITIES

    one_element = len(structure.composition.elements) == 1
    rows: list[dict[str, Any]] = []
    for name, raw in zip(names, predicted, strict=True):
        v, source = float(raw), ESTIMATE
        if name == "density":
            v, source = float(structure.density), COMPUTED
        elif name == "formation_energy_per_atom" and one_element:
            v, source = 0.0, BY_DEFINITION
        elif name == "band_gap":
            v = max(v, 0.0)
        elif name == "total_magnetization":
            v = min(max(v, 0.0), MAX_MOMENT_PER_ATOM * len(structure))
        q = QUANTITIES.get(name)
        rows.append({
            "quantity": q.label if q else name,
            "value": round(v, q.decimals if q else 2),
            "unit": q.unit if q else "",
            "source": source,
            "test MAE": mae.get(name, math.nan) if source == ESTIMATE else math.nan,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def beside_corpus(rows: pd.DataFrame, known: dict[str, float], crystal_id: str) -> pd.DataFrame:
    """:func:`property_rows` with a corpus crystal's values in a column of their own
    (:func:`dft_column`), one row per quantity: a quantity the corpus knows but the model does
    not estimate gets a row with an empty value (NaN) and source :data:`NOT_ESTIMATED`."""
    import pandas as pd

    from clac_core.properties import QUANTITIES

    def label(name: str) -> str:
        q = QUANTITIES.get(name)
        return q.label if q else name

    by_label = {label(n): (n, v) for n, v in known.items()}
    out = rows.copy()
    out[dft_column(crystal_id)] = [by_label.pop(q, (None, math.nan))[1] for q in out["quantity"]]
    extra = [
        {"quantity": lab, "value": math.nan, "unit": QUANTITIES[n].unit if n in QUANTITIES else "",
         "source": NOT_ESTIMATED, "test MAE": math.nan, dft_column(crystal_id): v}
        for lab, (n, v) in by_label.items()
    ]  # fmt: skip
    return pd.concat([out, pd.DataFrame(extra, columns=out.columns)], ignore_index=True) if extra else out


def values_sentence(rows: pd.DataFrame) -> str:
    """The upload's values in words, each number saying what it is: "band gap ≈ 1.20 eV (model
    estimate, test MAE 0.45 eV)", "density 2.28 g/cm³ (computed from the structure)"."""
    parts = []
    for r in rows.itertuples(index=False):
        value, unit, source, mae = r[1], r[2], r[3], r[4]
        if source == NOT_ESTIMATED or value != value:
            continue
        u = f" {unit}" if unit else ""
        if source == ESTIMATE:
            err = f"test MAE {mae:g}{u}" if mae == mae else "test error not known"
            parts.append(f"{r[0]} ≈ {value:g}{u} (model estimate, not DFT; {err})")
        elif source == BY_DEFINITION:
            parts.append(f"{r[0]} 0{u} (by definition: one element)")
        else:
            parts.append(f"{r[0]} {value:g}{u} ({source})")
    text = "; ".join(parts)
    return (text[0].upper() + text[1:] + ".") if parts else ""
