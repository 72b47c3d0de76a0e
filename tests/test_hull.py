"""Energy above the corpus's own convex hull (clac_core.index.hull) and what search does with it:
"stable" reads it where known, and a query of words alone puts crystals on or near the hull first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clac_core.index.hull import energy_above_hull, with_hull_column
from clac_core.properties import HULL_COLUMN
from clac_core.query import understand
from clac_core.query.rerank import near_hull, rerank_scores, stability_match, stable_mask


def test_energy_above_hull_of_a_binary_system() -> None:
    # A-B: AB at -1.0 eV/atom is on the hull; the hull at x_B = 1/3 (between A at 0 and AB) is
    # -2/3 eV/atom, so A2B at -0.5 lies 1/6 above it; B at +0.1 lies 0.1 above B's reference
    formulas = ["NaCl", "Na2Cl", "Cl", "Na", "NaCl", "Xx2"]
    fe = [-1.0, -0.5, 0.1, 0.0, np.nan, -1.0]
    eh = energy_above_hull(formulas, fe)
    assert eh[0] == pytest.approx(0.0, abs=1e-9)
    assert eh[1] == pytest.approx(0.5 / 3, abs=1e-9)
    assert eh[2] == pytest.approx(0.1, abs=1e-9)
    assert eh[3] == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(eh[4]) and np.isnan(eh[5])  # no formation energy; a formula nobody can read


def test_a_ternary_is_measured_against_its_binaries() -> None:
    # LiCoO2 at -1.3 eV/atom competes with 1/2 Li2O + CoO + 1/4 O2:
    # (0.5 * 3 * -2.07 + 2 * -1.2 + 0) / 4 atoms = -1.37625 eV/atom, 0.07625 below it
    formulas = ["LiCoO2", "Li2O", "CoO"]
    eh = energy_above_hull(formulas, [-1.3, -2.07, -1.2])
    assert eh[0] == pytest.approx(0.07625, abs=1e-6)
    assert energy_above_hull(formulas, [-1.5, -2.07, -1.2])[0] == pytest.approx(0.0, abs=1e-9)
    assert eh[1] == pytest.approx(0.0, abs=1e-9) and eh[2] == pytest.approx(0.0, abs=1e-9)


def test_with_hull_column_needs_formation_energies() -> None:
    md = pd.DataFrame({"formula": ["NaCl", "Na2Cl"], "formation_energy_per_atom": [-1.0, -0.5]})
    out = with_hull_column(md)
    assert list(out[HULL_COLUMN].round(4)) == [0.0, 0.1667] and HULL_COLUMN not in md.columns
    assert HULL_COLUMN not in with_hull_column(md.drop(columns=["formation_energy_per_atom"])).columns
    blank = md.assign(formation_energy_per_atom=np.nan)
    assert HULL_COLUMN not in with_hull_column(blank).columns


def _columns(eh: list[float], fe: list[float]) -> dict[str, np.ndarray]:
    return {HULL_COLUMN: np.asarray(eh, float), "formation_energy_per_atom": np.asarray(fe, float),
            "formula": np.asarray(["A"] * len(eh), dtype=object)}


def test_stable_reads_the_hull_where_known_and_the_formation_energy_else() -> None:
    cols = _columns([0.0, 0.3, np.nan, np.nan], [-1.0, -2.0, -0.5, 0.2])
    assert list(stable_mask(cols, 4)) == [True, False, True, False]
    m = stability_match(cols, 4)
    assert m[0] == 1.0 and m[1] < 0.01 and m[2] == 1.0 and m[3] < 1.0
    # an index without the column: formation energy alone, as before
    assert list(stable_mask({"formation_energy_per_atom": cols["formation_energy_per_atom"]}, 4)) == [
        True, True, True, False]


def test_a_query_of_words_puts_crystals_near_the_hull_first() -> None:
    n = 4
    cols = _columns([0.3, 0.0, 0.01, np.nan], [-1.0] * n)
    systems = np.asarray(["cubic", "cubic", "cubic", "hexagonal"])
    elements = [frozenset({"A"})] * n
    cosine = np.asarray([0.60, 0.45, 0.40, 0.70])
    intent = understand("cubic material")
    assert intent.words_only()
    order = np.argsort(-rerank_scores(cosine, intent, cols, elements=elements, crystal_systems=systems))
    # both near-hull cubic crystals before the off-hull one the model liked best; the
    # hexagonal one (no value) last: it does not meet the word
    assert list(order) == [1, 2, 0, 3]
    assert list(near_hull(cols, n)) == [0.0, 1.0, 1.0, 0.0]
    # without the column (an index built before it): the model's order among the cubic ones
    plain = {k: v for k, v in cols.items() if k != HULL_COLUMN}
    order = np.argsort(-rerank_scores(cosine, intent, plain, elements=elements, crystal_systems=systems))
    assert list(order[:3]) == [0, 1, 2]
    # a query with a number is not reordered by the hull
    numeric = understand("cubic material with formation energy below -0.5 eV/atom")
    assert not numeric.words_only()
    order = np.argsort(-rerank_scores(cosine, numeric, cols, elements=elements, crystal_systems=systems))
    assert list(order[:3]) == [0, 1, 2]


def test_add_corpus_hull_updates_an_old_index_in_place(tmp_path: Path) -> None:
    from pymatgen.core import Lattice, Structure

    from clac_core.index import CorpusIndex, CorpusIndexError
    from clac_core.index.build import add_corpus_hull
    from clac_core.record import structure_to_arrays

    rows = []
    for i, (formula, fe) in enumerate([("NaCl", -1.0), ("Na2Cl", -0.5), ("KCl", np.nan)]):
        s = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # arrays only
        rows.append({"crystal_id": f"c{i}", "formula": formula, "source": "t", "hypothetical": False,
                     "spacegroup_symbol": "", "spacegroup_number": 1, "crystal_system": "", "nsites": 2,
                     "elements": "Cl Na", "formation_energy_per_atom": fe, **structure_to_arrays(s)})
    md = pd.DataFrame(rows)
    old = CorpusIndex(embeddings=np.eye(3, 4, dtype=np.float32), metadata=md,
                      desc_embeddings=np.zeros((0, 4), np.float32),
                      descriptions=pd.DataFrame({"text": [], "view": [], "crystal_id": []}), manifest={})
    old.save(tmp_path / "idx")
    assert add_corpus_hull(tmp_path / "idx") == 2
    new = CorpusIndex.load(tmp_path / "idx").metadata
    assert list(new[HULL_COLUMN].round(4)[:2]) == [0.0, 0.1667] and np.isnan(new[HULL_COLUMN].iloc[2])
    assert not [p for p in (tmp_path / "idx").iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(CorpusIndexError, match="no metadata.parquet"):
        add_corpus_hull(tmp_path / "nothing")


def test_a_corpus_over_the_limit_gets_no_hull(monkeypatch: pytest.MonkeyPatch) -> None:
    import clac_core.index.hull as hull

    md = pd.DataFrame({"formula": ["NaCl", "Na2Cl", "KCl"], "formation_energy_per_atom": [-1.0, -0.5, -2.0]})
    monkeypatch.setattr(hull, "MAX_HULL_ROWS", 2)
    assert HULL_COLUMN not in hull.with_hull_column(md).columns
    monkeypatch.setattr(hull, "MAX_HULL_ROWS", 3)
    assert HULL_COLUMN in hull.with_hull_column(md).columns
