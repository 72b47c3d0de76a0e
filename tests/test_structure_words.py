"""Structure words as index columns (issue 19): the bonded network's dimensionality and the
cation polyhedra, stored at build time, read by search, and absent from older indexes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))


def test_structure_columns_of_rock_salt_and_unknown_facts() -> None:
    from pymatgen.core import Lattice, Structure

    from clac_core.index.build import structure_columns
    from clac_core.text import analyze

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cols = structure_columns(analyze(nacl))
    assert cols == {"dimensionality": 3.0, "cation_polyhedra": "octahedral", "structure_type": "rock salt"}
    none = structure_columns(None)
    assert np.isnan(none["dimensionality"]) and none["cation_polyhedra"] == "" and none["structure_type"] == ""


def test_built_index_has_the_structure_columns() -> None:
    import torch
    from helpers import TINY_MODEL, tiny_records

    from clac_core.config import model_config_from_dict
    from clac_core.index import build
    from clac_core.models import CLaCModel

    torch.manual_seed(0)
    model = CLaCModel(model_config_from_dict(TINY_MODEL)).eval()
    idx = build(model, tiny_records()[:4], max_descriptions=20)
    md = idx.metadata
    assert {"dimensionality", "cation_polyhedra", "structure_type"} <= set(md.columns)
    assert md["dimensionality"].notna().all() and len(idx.descriptions) > 0


def _index(with_columns: bool):
    from clac_core.index import CorpusIndex

    md = pd.DataFrame(
        {
            "crystal_id": ["mos2", "nacl", "zns"],
            "formula": ["MoS2", "NaCl", "ZnS"],
            "source": ["t"] * 3,
            "hypothetical": [False] * 3,
            "spacegroup_symbol": ["P6_3/mmc", "Fm-3m", "F-43m"],
            "spacegroup_number": [194, 225, 216],
            "crystal_system": ["hexagonal", "cubic", "cubic"],
            "nsites": [6, 2, 2],
            "elements": ["Mo S", "Cl Na", "S Zn"],
            "atomic_numbers": [[42, 16], [11, 17], [30, 16]],
        }
    )
    if with_columns:
        md["dimensionality"] = [2.0, 3.0, 3.0]
        md["cation_polyhedra"] = ["trigonal prismatic", "octahedral", "tetrahedral"]
    return CorpusIndex(embeddings=np.eye(3, 4, dtype=np.float32), metadata=md,
                       desc_embeddings=np.zeros((0, 4), np.float32),
                       descriptions=pd.DataFrame({"text": [], "view": [], "crystal_id": []}), manifest={})


def _explorer(index):
    from clac_core.inference import Explorer

    ex = Explorer.__new__(Explorer)
    ex.index = index

    class Queries(dict):
        def get(self, key, default=None):
            return np.array([0.0, 1.0, 0.5, 0.0], np.float32)  # the model prefers NaCl, then ZnS

    ex._query_cache = Queries()
    return ex


def test_search_reads_structure_words_over_the_columns() -> None:
    ex = _explorer(_index(True))
    assert ex.search_text("a 2D van der Waals material", 3, property_aware=True).iloc[0]["crystal_id"] == "mos2"
    assert ex.search_text("tetrahedral coordination", 3, property_aware=True).iloc[0]["crystal_id"] == "zns"
    ans = ex.search("layered octahedral sulfide", 3, property_aware=True)
    assert ans.diagnosis.conflicts  # no layered crystal here has octahedral cations
    assert ans.relaxed_hits is not None and not ans.relaxed_hits.empty


def test_an_old_index_without_the_columns_still_searches() -> None:
    ex = _explorer(_index(False))
    hits = ex.search_text("a layered material", 3, property_aware=True)
    assert hits.iloc[0]["crystal_id"] == "nacl"  # the words leave the ranking to the model
    assert not ex.search("layered octahedral", 3, property_aware=True).dead_end


def test_a_layered_query_puts_the_known_van_der_waals_crystals_first() -> None:
    from clac_core.query import understand
    from clac_core.query.rerank import rerank_scores

    formulas = np.asarray(["VPO5", "MoS2", "TiO2", "C", "GaSe"], dtype=object)
    cols = {"formula": formulas, "dimensionality": np.asarray([2.0, 2.0, 3.0, 3.0, np.nan])}
    cosine = np.asarray([0.7, 0.4, 0.9, 0.8, 0.9])  # the model prefers the vanadium phosphate
    intent = understand("2D van der Waals material")
    assert any("van der Waals crystals first" in u for u in intent.describe())
    s = rerank_scores(cosine, intent, cols, elements=[frozenset()] * 5, crystal_systems=np.asarray([""] * 5))
    # MoS2 (known, layered) first, then the other layered crystal; rutile-like TiO2 and diamond-like
    # C are in the family but not layered here, and GaSe's layers are unknown (NaN): no credit
    assert list(np.argsort(-s)[:2]) == [1, 0]
    assert s[2] < s[0] and s[3] < s[0] and s[4] < s[0]
    framework = understand("3D framework material")  # other dimensionalities: no family
    s3 = rerank_scores(cosine, framework, cols, elements=[frozenset()] * 5, crystal_systems=np.asarray([""] * 5))
    assert np.argmax(s3) == 2
