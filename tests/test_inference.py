"""Explorer: zero-shot scores, map projection + UMAP cache keying, uploads, model info, CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from helpers import shared_tiny_assets, tiny_records  # noqa: E402


@pytest.fixture(scope="module")
def explorer():
    from clac_core.inference import Explorer

    return Explorer.load(*shared_tiny_assets())


def test_search_text_and_nearest(explorer):
    from clac_core.index import SearchFilters

    hits = explorer.search_text("a cubic oxide", 5, SearchFilters(must_contain=["O"]))
    assert 0 < len(hits) <= 4 and all("O" in f for f in hits["formula"])
    with pytest.raises(ValueError, match="empty"):
        explorer.search_text("   ")
    s = tiny_records()[4].structure  # Cu
    near = explorer.nearest_crystals(s, 3)
    assert near.iloc[0]["formula"] == "Cu" and near.iloc[0]["similarity"] == pytest.approx(1.0, abs=2e-3)
    nd = explorer.nearest_descriptions(s, 4)
    assert len(nd) == 4 and list(nd["similarity"]) == sorted(nd["similarity"], reverse=True)


def test_zero_shot_is_a_distribution_over_all_classes(explorer):
    from clac_core.symmetry import CRYSTAL_SYSTEMS

    res = explorer.zero_shot(tiny_records()[0].structure)
    cs = res["crystal system"]
    assert set(cs["label"]) == set(CRYSTAL_SYSTEMS)
    assert cs["score"].sum() == pytest.approx(1.0) and (cs["score"] >= 0).all()
    assert list(cs["score"]) == sorted(cs["score"], reverse=True)
    assert set(res["metal / non-metal"]["label"]) == {"metal", "non-metal"}


def test_describe_and_upload(explorer):
    from clac_core.inference import read_upload

    descs = explorer.describe(tiny_records()[6].structure)
    assert descs and any("SrTiO3" in d.text for d in descs)
    bad = read_upload(b"", "empty.cif")
    assert not bad.ok and bad.error
    good = read_upload(tiny_records()[0].structure.to(fmt="poscar").encode(), "POSCAR")
    assert good.ok and good.structures[0].composition.reduced_formula == "NaCl"


def test_map_fallback_and_projection(explorer):
    pts = explorer.umap_coords()
    n, m = len(explorer.index), len(explorer.index.descriptions)
    assert len(pts) == n + m and set(pts["modality"]) == {"crystal", "text"}
    assert explorer.map_method.startswith("PCA")  # no UMAP cache for this index: never fit on load
    # a crystal already in the corpus projects onto (the weighted centre of) its own neighbourhood
    xy = explorer.project(explorer.index.embeddings[:2])
    assert xy.shape == (2, 2) and np.isfinite(xy).all()
    lo, hi = pts[["x", "y"]].min().to_numpy(), pts[["x", "y"]].max().to_numpy()
    assert ((xy >= lo - 1e-5) & (xy <= hi + 1e-5)).all()


def test_umap_cache_key_depends_on_checkpoint_and_corpus(explorer, tmp_path):
    from clac_core.index import CorpusIndex
    from clac_core.index.projection import umap_cache_path

    idx = explorer.index
    p1 = umap_cache_path(idx, tmp_path)
    other = CorpusIndex(embeddings=idx.embeddings[::-1].copy(), metadata=idx.metadata,
                        desc_embeddings=idx.desc_embeddings, descriptions=idx.descriptions, manifest=idx.manifest)
    assert umap_cache_path(other, tmp_path) != p1
    other2 = CorpusIndex(embeddings=idx.embeddings, metadata=idx.metadata, desc_embeddings=idx.desc_embeddings,
                         descriptions=idx.descriptions, manifest={**idx.manifest, "checkpoint_hash": "x"})
    assert umap_cache_path(other2, tmp_path) != p1


def test_model_info_reads_untrained_flag(explorer):
    info = explorer.model_info()
    assert info["untrained"] is True and info["crystals"] == 12
    assert info["index_matches_model"] is True
    assert info["by_source"] == {"mp_test": 7, "proto_test": 5}


def test_index_build_cli(explorer, tmp_path):
    import pandas as pd
    from pymatgen.io.cif import CifWriter

    from clac_core.cli import main

    csv = tmp_path / "t.csv"
    recs = tiny_records()[:2]
    pd.DataFrame({"material_id": ["a", "b"], "cif": [str(CifWriter(r.structure)) for r in recs],
                  "band_gap": [1.0, 2.0]}).to_csv(csv, index=False)
    out = tmp_path / "idx"
    rc = main(["index", "build", "--checkpoint", str(explorer.checkpoint), "--source", f"csv:{csv}",
               "--out", str(out), "--max-descriptions", "5"])
    assert rc == 0
    from clac_core.index import CorpusIndex

    idx = CorpusIndex.load(out)
    assert len(idx) == 2 and len(idx.descriptions) == 5
    assert idx.metadata["band_gap"].tolist() == [1.0, 2.0]
    assert idx.manifest["checkpoint_hash"] == explorer.checkpoint_hash
