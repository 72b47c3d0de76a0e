"""Never an empty page (issue 19): which wishes no crystal meets, which conflict, and the
nearest relaxation with its results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def explorer():
    from clac_core.index import CorpusIndex
    from clac_core.inference import Explorer

    md = pd.DataFrame(
        {
            "crystal_id": [f"c{i}" for i in range(6)],
            "formula": ["CdTe", "PbI2", "ZnS", "GaN", "Si", "LiCoO2"],
            "source": ["t"] * 6,
            "hypothetical": [False] * 6,
            "spacegroup_symbol": ["F-43m"] * 6,
            "spacegroup_number": [216] * 6,
            "crystal_system": ["cubic", "trigonal", "cubic", "hexagonal", "cubic", "trigonal"],
            "nsites": [2, 3, 2, 4, 2, 4],
            "elements": ["Cd Te", "I Pb", "S Zn", "Ga N", "Si", "Co Li O"],
            "atomic_numbers": [[48, 52], [53, 82], [16, 30], [31, 7], [14], [27, 3, 8]],
            "band_gap": [1.5, 2.3, 3.6, 3.2, 0.6, 2.1],
            "bulk_modulus": [45.0, np.nan, 77.0, 200.0, 98.0, 150.0],
        }
    )
    index = CorpusIndex(
        embeddings=np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32),
        metadata=md,
        desc_embeddings=np.zeros((0, 8), np.float32),
        descriptions=pd.DataFrame({"text": [], "view": [], "crystal_id": []}),
        manifest={},
    )
    ex = Explorer.__new__(Explorer)  # no model: query embeddings are injected
    ex.index = index

    class Queries(dict):
        def get(self, key, default=None):
            return np.ones(8, np.float32)

    ex._query_cache = Queries()
    return ex


def test_a_search_every_crystal_can_meet_needs_no_relaxation(explorer) -> None:
    ans = explorer.search("semiconductor without lead or cadmium", k=5, property_aware=True)
    assert not ans.dead_end and ans.diagnosis.relaxation is None and ans.relaxed_hits is None
    assert not {"c0", "c1"} & set(ans.hits["crystal_id"])


def test_an_empty_constraint_is_named_and_widened(explorer) -> None:
    ans = explorer.search("band gap above 6 eV", k=5, property_aware=True)
    d = ans.diagnosis
    assert ans.dead_end and d.empty == ["band gap > 6 eV"]
    assert "widened" in d.relaxation and not ans.relaxed_hits.empty
    (c,) = d.intent.constraints
    assert c.lo < 3.7  # takes in the nearest crystals (gaps up to 3.6 eV)


def test_conflicting_wishes_are_named_and_one_is_dropped(explorer) -> None:
    from clac_core.index import SearchFilters

    # every Li crystal here is trigonal; the filters ask for cubic
    ans = explorer.search("a lithium compound", k=5, filters=SearchFilters(crystal_systems=["cubic"]),
                          property_aware=True)
    assert ans.hits.empty and ans.dead_end
    d = ans.diagnosis
    assert d.conflicts and d.conflicts[0][0] == "contains Li"
    assert d.relaxation.startswith("dropped") and not ans.relaxed_hits.empty
    assert any("both" in m for m in d.messages())


def test_filters_alone_get_a_relaxation_too(explorer) -> None:
    from clac_core.index import SearchFilters

    f = SearchFilters(must_contain=["Li"], band_gap=(5.0, 9.0))
    ans = explorer.search("anything", k=5, filters=f, property_aware=False)
    assert ans.hits.empty and ans.diagnosis.relaxation and not ans.relaxed_hits.empty


def test_moduli_read_and_diagnosed_over_the_index_columns(explorer) -> None:
    ans = explorer.search("incompressible solid", k=3, property_aware=True)
    assert ans.hits.iloc[0]["crystal_id"] == "c3"  # bulk modulus 200 GPa
    assert ans.diagnosis.n_meeting_all == 1


def test_several_empty_wishes_are_given_up_one_at_a_time(explorer) -> None:
    ans = explorer.search("a plutonium americium compound", k=5, property_aware=True)
    d = ans.diagnosis
    assert set(d.empty) == {"contains Pu", "contains Am"}
    assert d.relaxation.count("dropped") == 2 and not ans.relaxed_hits.empty
