"""CorpusIndex: build from a tiny in-code corpus, save/load round trip, search and filters, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import TINY_MODEL, tiny_records


def test_round_trip_and_float16_on_disk(tiny):
    from clac_core.index import CorpusIndex

    _, ix = tiny
    idx = CorpusIndex.load(ix)
    assert np.load(ix / "embeddings.npy").dtype == np.float16
    assert idx.embeddings.dtype == np.float32
    assert len(idx) == 12
    np.testing.assert_allclose(np.linalg.norm(idx.embeddings, axis=1), 1.0, atol=1e-3)
    man = json.loads((ix / "manifest.json").read_text())
    assert man["counts"]["crystals"] == 12 and man["checkpoint_hash"]
    assert 0 < len(idx.descriptions) <= 40
    assert idx.descriptions["text"].is_unique
    # exact reconstruction of the structure from the stored arrays
    rec = tiny_records()[6]
    s = idx.structure(6)
    assert s.composition.reduced_formula == "SrTiO3"
    np.testing.assert_allclose(s.lattice.matrix, rec.structure.lattice.matrix)
    row = idx.metadata.iloc[6]
    assert row["crystal_system"] == "cubic" and row["spacegroup_number"] == 221


def test_search_ranks_by_similarity_and_query_crystal_first(tiny):
    from clac_core.index import CorpusIndex

    idx = CorpusIndex.load(tiny[1])
    hits = idx.search(idx.embeddings[3], k=5)
    assert hits.iloc[0]["row"] == 3 and hits.iloc[0]["similarity"] == pytest.approx(1.0, abs=1e-3)
    assert list(hits["similarity"]) == sorted(hits["similarity"], reverse=True)
    assert list(hits["rank"]) == [1, 2, 3, 4, 5]


def test_filters(tiny):
    from clac_core.index import CorpusIndex, CorpusIndexError, SearchFilters

    idx = CorpusIndex.load(tiny[1])
    q = idx.embeddings[0]
    hits = idx.search(q, 50, SearchFilters(must_contain=["O"]))
    assert set(hits["formula"]) == {"MgO", "SrTiO3", "TiO2", "ZnO"}
    hits = idx.search(q, 50, SearchFilters(must_contain=["o"], must_not_contain=["Ti"]))
    assert set(hits["formula"]) == {"MgO", "ZnO"}
    hits = idx.search(q, 50, SearchFilters(crystal_systems=["hexagonal"]))
    assert set(hits["formula"]) == {"ZnO", "Mg"}
    hits = idx.search(q, 50, SearchFilters(band_gap=(1.0, None)))
    assert set(hits["formula"]) == {"NaCl", "MgO", "CsCl", "SrTiO3"}
    hits = idx.search(q, 50, SearchFilters(nsites=(None, 2)))  # conventional cells
    assert set(hits["formula"]) == {"CsCl", "Fe", "Mg"}
    hits = idx.search(q, 50, SearchFilters(nsites=(5, 6)))
    assert set(hits["formula"]) == {"SrTiO3", "TiO2"}
    hits = idx.search(q, 50, SearchFilters(sources=["proto_test"], include_hypothetical=False))
    assert hits.empty
    assert len(idx.search(q, 50, SearchFilters(include_hypothetical=False))) == 7
    with pytest.raises(CorpusIndexError, match="unknown element"):
        idx.search(q, 5, SearchFilters(must_contain=["Xx"]))
    with pytest.raises(CorpusIndexError, match="dims"):
        idx.search(np.ones(3), 5)


def test_load_rejects_non_index(tmp_path):
    from clac_core.index import CorpusIndex, CorpusIndexError

    with pytest.raises(CorpusIndexError, match="not a CLaC index"):
        CorpusIndex.load(tmp_path)


def test_element_table_matches_pymatgen():
    from pymatgen.core.periodic_table import Element

    from clac_core.index import atomic_number
    from clac_core.vocab.elements import SYMBOLS as ELEMENT_SYMBOLS

    assert len(ELEMENT_SYMBOLS) == 119
    assert all(ELEMENT_SYMBOLS[z] == Element.from_Z(z).symbol for z in range(1, 119))
    assert atomic_number(" ti ") == 22


def test_filtered_search_equals_brute_force():
    """Selective filters score only the kept rows; loose ones take the full product: same ranking."""
    import pandas as pd

    from clac_core.index import CorpusIndex, SearchFilters

    rng = np.random.default_rng(0)
    n, d = 400, 16
    meta = pd.DataFrame({
        "crystal_id": [f"c{i}" for i in range(n)], "formula": [f"X{i}" for i in range(n)],
        "source": rng.choice(["a", "b"], n), "hypothetical": rng.random(n) < 0.3,
        "spacegroup_symbol": "P1", "spacegroup_number": 1, "crystal_system": rng.choice(["Cubic", "hexagonal"], n),
        "nsites": rng.integers(1, 30, n), "elements": "", "lattice": [[0.0] * 9] * n, "frac_coords": [[0.0] * 3] * n,
        "atomic_numbers": [rng.choice([1, 8, 22, 26], size=rng.integers(1, 3), replace=False).tolist() for _ in range(n)],
        "band_gap": np.where(rng.random(n) < 0.7, rng.exponential(2.0, n), np.nan),
    })
    idx = CorpusIndex(embeddings=rng.standard_normal((n, d)), metadata=meta, desc_embeddings=np.zeros((0, d)),
                      descriptions=pd.DataFrame({"text": [], "view": [], "crystal_id": []}))
    q = rng.standard_normal(d).astype(np.float32)
    scores = idx.embeddings @ (q / np.linalg.norm(q))
    has = meta["atomic_numbers"].map
    cases = [  # filters, and the same rows by plain pandas
        (SearchFilters(must_contain=["O"], crystal_systems=["cubic"], band_gap=(0.5, 3.0), sources=["a"]),
         has(lambda z: 8 in z) & (meta["crystal_system"] == "Cubic") & meta["band_gap"].between(0.5, 3.0)
         & (meta["source"] == "a")),
        (SearchFilters(must_not_contain=["H"], nsites=(2, None)), has(lambda z: 1 not in z) & (meta["nsites"] >= 2)),
        (SearchFilters(nsites=(1, 29)), meta["nsites"] >= 1),  # keeps every row: the full-product path
    ]
    for f, keep in cases:
        keep = keep.to_numpy()
        expect = np.flatnonzero(keep)[np.argsort(-scores[keep], kind="stable")][:10]
        hits = idx.search(q, 10, f)
        assert list(hits["row"]) == list(expect)
        np.testing.assert_allclose(hits["similarity"], scores[expect], rtol=1e-5)


def test_build_reports_progress_by_stage_name():
    """The Corpus page shows "<stage>: done/total": the stage names are the plain ones."""
    import torch

    from clac_core.config import model_config_from_dict
    from clac_core.index import build
    from clac_core.models import CLaCModel

    torch.manual_seed(0)
    model = CLaCModel(model_config_from_dict(TINY_MODEL)).eval()
    calls: list[tuple[str, int, int]] = []
    records = tiny_records()
    build(model, records, max_descriptions=40, progress=lambda *a: calls.append(a))
    stages = [c[0] for c in calls]
    assert {"metadata", "crystals", "descriptions"} <= set(stages)
    assert set(stages) <= {"metadata", "crystals", "descriptions"}
    assert ("crystals", len(records), len(records)) in calls


def test_refresh_text_moves_an_index_to_a_text_side_run_and_refuses_other_towers(tiny, tmp_path):
    """clac index refresh-text: a checkpoint that changed only the text side gets the index's
    description embeddings re-made (equal to its own), the crystal embeddings untouched, the
    manifest's hash moved on; an index of another checkpoint, or a changed crystal tower, is
    refused in plain words and leaves the index as it was."""
    import shutil

    from safetensors.torch import load_file, save_file

    from clac_core import cli
    from clac_core.embed import embed_texts
    from clac_core.index import CorpusIndex
    from clac_core.models import CLaCModel
    from clac_core.models.fingerprint import checkpoint_hash

    ckpt, index_dir = tiny
    idx_dir = shutil.copytree(index_dir, tmp_path / "index")

    def variant(name: str, prefix: str) -> str:
        out = shutil.copytree(ckpt, tmp_path / name)
        state = load_file(str(out / "model.safetensors"))
        key = next(k for k in state if k.startswith(prefix) and k.endswith("weight"))
        state[key] = state[key] + 0.05
        save_file(state, str(out / "model.safetensors"))
        return str(out)

    text_run, crystal_run = variant("text_run", "text_proj."), variant("crystal_run", "crystal_proj.")
    crystals_before = (idx_dir / "embeddings.npy").read_bytes()
    desc_before = np.load(idx_dir / "description_embeddings.npy")
    args = ["index", "refresh-text", "--index", str(idx_dir)]
    assert cli.main([*args, "--checkpoint", crystal_run, "--previous", str(ckpt)]) == 1  # another tower
    assert cli.main([*args, "--checkpoint", text_run, "--previous", text_run]) == 1  # not the index's
    assert np.array_equal(np.load(idx_dir / "description_embeddings.npy"), desc_before)
    assert cli.main([*args, "--checkpoint", text_run, "--previous", str(ckpt)]) == 0
    assert (idx_dir / "embeddings.npy").read_bytes() == crystals_before
    manifest = json.loads((idx_dir / "manifest.json").read_text())
    assert manifest["checkpoint_hash"] == checkpoint_hash(text_run) != manifest["text_side_from"]["checkpoint_hash"]
    idx = CorpusIndex.load(idx_dir)
    want = embed_texts(CLaCModel.from_checkpoint(text_run), idx.descriptions["text"].tolist(), progress=False)
    np.testing.assert_allclose(idx.desc_embeddings, want, atol=2e-3)
    assert not np.allclose(idx.desc_embeddings, desc_before, atol=2e-3)


def test_refresh_text_messages_name_the_problem(tiny, tmp_path, capsys):
    import shutil

    from clac_core import cli

    ckpt, index_dir = tiny
    idx_dir = shutil.copytree(index_dir, tmp_path / "index")
    other = shutil.copytree(ckpt, tmp_path / "other")
    (other / "config.json").write_text((other / "config.json").read_text() + " ")  # same weights, other hash
    assert cli.main(["index", "refresh-text", "--index", str(idx_dir), "--checkpoint", str(ckpt),
                     "--previous", str(other)]) == 1  # fmt: skip
    assert "pass the checkpoint that built it as --previous" in capsys.readouterr().err
