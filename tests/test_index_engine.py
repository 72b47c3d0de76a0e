"""The faiss search engine behind CorpusIndex: exact below the size threshold (same top-10 as
the NumPy brute force it replaced, on the shipped index), approximate above it (recall,
filters inside the search, stored beside the index and rebuilt only for new embeddings), and a
large index opened lazily (memory-mapped float16 embeddings, structure columns read on demand).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "assets" / "index"
SHIPPED_QUERIES = [  # the Search page's example queries
    "a cubic perovskite oxide",
    "a layered transition metal dichalcogenide",
    "a wide band gap insulator containing fluorine",
    "a metallic intermetallic compound with hexagonal symmetry",
    "rock salt structure",
]


def numpy_top(emb: np.ndarray, q: np.ndarray, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The search before faiss: one product, argpartition, stable argsort."""
    q = q / np.linalg.norm(q)
    rows = np.arange(len(emb)) if rows is None else rows
    scores = np.einsum("nd,d->n", emb[rows], q.astype(np.float32))
    part = np.argpartition(-scores, k - 1)[:k]
    order = part[np.argsort(-scores[part], kind="stable")]
    return rows[order], scores[order]


def assert_same_ranking(hits, rows: np.ndarray, scores: np.ndarray) -> None:
    """Same rows in the same order; a swap is allowed only between rows whose scores tie
    (to float32 rounding of two summation orders)."""
    got = hits["row"].to_numpy()
    np.testing.assert_allclose(hits["similarity"].to_numpy(), scores, atol=2e-6)
    for g, r, s in zip(got, rows, scores, strict=True):
        assert g == r or abs(float(hits.loc[hits["row"] == r, "similarity"].iloc[0]) - s) < 2e-6


@pytest.fixture(scope="module")
def shipped():
    from clac_core.index import CorpusIndex

    if not (SHIPPED / "embeddings.npy").exists():
        pytest.skip("no shipped index")
    return CorpusIndex.load(SHIPPED)


def test_shipped_index_is_exact_and_ranks_as_numpy(shipped):
    from clac_core.index import SearchFilters

    assert not shipped.engine.approximate
    demb = shipped.desc_embeddings
    queries = list(demb[np.linspace(0, len(demb) - 1, 40).astype(int)])
    for q in queries:
        assert_same_ranking(shipped.search(q, 10), *numpy_top(shipped.embeddings, q, 10))
    f = SearchFilters(must_contain=["O"], crystal_systems=["cubic"])
    rows = np.flatnonzero(shipped.filter_mask(f))
    for q in queries[:10]:
        assert_same_ranking(shipped.search(q, 10, f), *numpy_top(shipped.embeddings, q, 10, rows))


@pytest.mark.slow
def test_shipped_queries_same_top10_as_numpy(shipped):
    """The Search page's example queries, embedded by the shipped model."""
    from clac_core.inference import encode_query_texts
    from clac_core.models import CLaCModel

    model = CLaCModel.from_checkpoint(REPO / "assets" / "model").eval()
    for q in encode_query_texts(model, SHIPPED_QUERIES):
        assert_same_ranking(shipped.search(q, 10), *numpy_top(shipped.embeddings, q, 10))


# ------------------------------------------------------------------ approximate path, forced on


def synthetic_index(n: int, seed: int = 0):
    """``n`` rows: a small base of unit vectors repeated with noise, metadata with elements,
    crystal systems and band gaps (no shipped data needed)."""
    import pandas as pd

    from clac_core.index import CorpusIndex

    rng = np.random.default_rng(seed)
    d = 32
    base = rng.standard_normal((n // 20 + 1, d)).astype(np.float32)
    emb = base[rng.integers(0, len(base), n)] + 0.3 * rng.standard_normal((n, d)).astype(np.float32)
    els = rng.choice(["O Ti", "Cl Na", "Fe", "O Sr Ti", "S Zn"], n)
    meta = pd.DataFrame({
        "crystal_id": [f"s{i}" for i in range(n)], "formula": [f"X{i}" for i in range(n)],
        "source": rng.choice(["a", "b"], n), "hypothetical": False, "spacegroup_symbol": "P1",
        "spacegroup_number": 1, "crystal_system": rng.choice(["cubic", "hexagonal", "triclinic"], n),
        "nsites": rng.integers(1, 30, n), "elements": els,
        "lattice": [np.eye(3).reshape(-1) * (3 + i % 5) for i in range(n)],
        "frac_coords": [[0.0, 0.0, 0.0]] * n, "atomic_numbers": [[26]] * n,
        "band_gap": np.where(rng.random(n) < 0.8, rng.exponential(1.5, n), np.nan),
    })
    desc = pd.DataFrame({"text": [], "view": [], "crystal_id": []})
    return CorpusIndex(embeddings=emb, metadata=meta, desc_embeddings=np.zeros((0, d)), descriptions=desc)


@pytest.fixture(scope="module")
def approx_dir(tmp_path_factory):
    from clac_core.index import EngineConfig

    idx = synthetic_index(20_000)
    idx.engine_config = EngineConfig(exact_max_rows=5_000, subset_exact_max=500, rerank_pool=300)
    out = tmp_path_factory.mktemp("approx")
    idx.save(out)
    return out, idx


def test_approximate_index_recall_and_storage(approx_dir, monkeypatch):
    from clac_core.index import CorpusIndex, EngineConfig, ann_build

    out, built = approx_dir
    cfg = built.engine_config
    assert len(list(out.glob("ann_*.faiss"))) == 1 and built.engine.approximate
    assert built.engine.info.recall_at_10 >= 0.95
    for name in ("build_ivf", "build_hnsw"):
        monkeypatch.setattr(ann_build, name, lambda *a, **k: pytest.fail("rebuilt an unchanged index"))
    idx = CorpusIndex.load(out, config=cfg)
    assert idx.engine.approximate and idx.embeddings.dtype == np.float16
    assert isinstance(idx.embeddings, np.memmap)
    rng = np.random.default_rng(1)
    queries = idx.embeddings[rng.choice(len(idx), 100)].astype(np.float32) + 0.1 * rng.standard_normal((100, 32))
    hits = [len(set(idx.search(q, 10)["row"]) & set(numpy_top(np.asarray(idx.embeddings, np.float32), q, 10)[0]))
            for q in queries]
    assert np.mean(hits) / 10 >= 0.95
    exact = CorpusIndex.load(out, config=EngineConfig())  # under the threshold: exact, no file needed
    assert not exact.engine.approximate


def test_approximate_filters_inside_the_search_return_k(approx_dir):
    from clac_core.index import CorpusIndex, SearchFilters

    out, built = approx_dir
    idx = CorpusIndex.load(out, config=built.engine_config)
    q = np.asarray(idx.embeddings[7], dtype=np.float32)
    cases = [
        SearchFilters(crystal_systems=["cubic"]),  # ~1/3 kept: the IVF scan with a bitmap selector
        SearchFilters(must_contain=["Sr"], band_gap=(0.5, 2.0)),  # few kept: exact over the candidates
        SearchFilters(must_not_contain=["O"], sources=["a"], crystal_systems=["triclinic"]),
    ]
    for f in cases:
        mask = idx.filter_mask(f)
        hits = idx.search(q, 25, f)
        assert len(hits) == min(25, int(mask.sum()))
        assert mask[hits["row"].to_numpy()].all()
        assert list(hits["similarity"]) == sorted(hits["similarity"], reverse=True)


def test_rerank_sees_candidates_only_on_an_approximate_index(approx_dir):
    from clac_core.index import CorpusIndex

    out, built = approx_dir
    idx = CorpusIndex.load(out, config=built.engine_config)
    seen: list[int] = []

    def rescore(rows, scores):
        seen.append(len(rows))
        return scores + (rows % 2 == 0)  # even rows first

    hits = idx.search(np.asarray(idx.embeddings[3], np.float32), 10, rescore=rescore)
    assert seen == [built.engine_config.rerank_pool]
    assert (hits["row"] % 2 == 0).all() and "score" in hits


def test_large_index_opens_lazily_and_rebuilds_for_new_embeddings(approx_dir, tmp_path):
    from clac_core.index import CorpusIndex

    out, built = approx_dir
    idx = CorpusIndex.load(out, config=built.engine_config)
    assert "lattice" not in idx.metadata.columns
    assert idx.structure(13).lattice.a == pytest.approx(3 + 13 % 5)
    hits = idx.search(np.asarray(idx.embeddings[13], np.float32), 5)
    assert hits.iloc[0]["row"] == 13 and "lattice" not in hits.columns  # read per crystal, on demand
    # a copy with other embeddings gets its own approximate index; the stale one is dropped
    other = synthetic_index(20_000, seed=5)
    other.engine_config = built.engine_config
    other.save(tmp_path)
    again = CorpusIndex.load(tmp_path, config=built.engine_config)
    assert again.corpus_hash != idx.corpus_hash
    assert [p.name for p in tmp_path.glob("ann_*.faiss")] == [f"ann_{again.corpus_hash}.faiss"]
    # saving a lazily opened index keeps its structure columns
    idx.save(tmp_path / "copy")
    back = CorpusIndex.load(tmp_path / "copy")  # default threshold: small, read whole
    assert "lattice" in back.metadata.columns and back.corpus_hash == idx.corpus_hash


def test_ivf_kind_also_meets_recall_and_filters(tmp_path):
    from clac_core.index import CorpusIndex, EngineConfig, SearchFilters

    idx = synthetic_index(20_000, seed=2)
    cfg = EngineConfig(exact_max_rows=5_000, subset_exact_max=500, ann_kind="ivf")
    idx.engine_config = cfg
    idx.save(tmp_path)
    idx = CorpusIndex.load(tmp_path, config=cfg)
    assert idx.engine.info.kind == "ivf_sq_fp16" and idx.engine.info.recall_at_10 >= 0.95
    f = SearchFilters(crystal_systems=["cubic"])
    hits = idx.search(np.asarray(idx.embeddings[5], np.float32), 20, f)
    assert len(hits) == 20 and idx.filter_mask(f)[hits["row"].to_numpy()].all()


def test_map_of_a_large_index_is_a_stratified_sample(approx_dir, monkeypatch):
    from clac_core.index import CorpusIndex, projection
    from clac_core.inference.corpus_map import map_points, project_onto_map

    out, built = approx_dir
    idx = CorpusIndex.load(out, config=built.engine_config)
    rows = projection.map_rows(idx, cap=1_000)
    assert 990 <= len(rows) <= 1_010 and np.all(np.diff(rows) > 0)
    md = idx.metadata
    assert set(zip(md["crystal_system"].iloc[rows], md["source"].iloc[rows], strict=True)) == set(
        zip(md["crystal_system"], md["source"], strict=True))
    monkeypatch.setattr(projection, "MAP_MAX_POINTS", 1_000)
    monkeypatch.setattr(projection.map_rows, "__defaults__", (1_000, 0))
    m = projection.load_map(idx, out)  # PCA over the sample (no UMAP stored)
    pts = map_points(idx, m)
    crystals = pts[pts["modality"] == "crystal"]
    assert len(crystals) == len(rows) and list(crystals["row"]) == list(rows)
    assert project_onto_map(idx, m, np.asarray(idx.embeddings[:2], np.float32)).shape == (2, 2)


def test_app_engine_settings_from_environment(approx_dir, monkeypatch):
    from clac_core.index import EngineConfig
    from clac_core.inference import engine_config, engine_summary, open_index

    out, _ = approx_dir
    monkeypatch.delenv("CLAC_EXACT_MAX_ROWS", raising=False)
    monkeypatch.delenv("CLAC_SUBSET_EXACT_MAX", raising=False)
    assert engine_config() == EngineConfig()
    exact = open_index(out)  # 20k rows: under the default threshold
    assert engine_summary(exact) == "exact search over 20,000 crystals"
    monkeypatch.setenv("CLAC_EXACT_MAX_ROWS", "0")
    monkeypatch.setenv("CLAC_SUBSET_EXACT_MAX", " 7 ")
    assert (engine_config().exact_max_rows, engine_config().subset_exact_max) == (0, 7)
    approx = open_index(out)
    assert approx.engine.approximate
    said = engine_summary(approx)
    assert said == (f"approximate search over 20,000 crystals (HNSW graph; recall@10 "
                    f"{approx.engine.info.recall_at_10:.3f} against exact search on 200 held-out queries)"), said
    assert approx.engine.info.recall_at_10 >= 0.95
    for bad in ("-1", "many", "2.5"):
        monkeypatch.setenv("CLAC_EXACT_MAX_ROWS", bad)
        with pytest.raises(ValueError, match="CLAC_EXACT_MAX_ROWS must be a whole number"):
            engine_config()


class _FakeGpuIndex:
    """Stands in for faiss-gpu's copy of an index (no GPU here): searches the CPU index and
    counts its calls; like a GPU index it takes no search parameters."""

    def __init__(self, cpu) -> None:
        self.cpu, self.calls, self.nprobe = cpu, 0, None

    def search(self, x, k):
        self.calls += 1
        return self.cpu.search(x, k)


def test_faiss_gpu_takes_unfiltered_searches_and_filters_stay_on_cpu(monkeypatch):
    """With faiss-gpu present, the exact index is copied to the GPUs and serves unfiltered
    searches; a filtered search uses the CPU index with its selector (GPU indexes ignore
    one). Wiring only: no GPU on this machine, faiss-gpu's copy is faked."""
    import faiss

    from clac_core.index import EngineConfig, SearchFilters
    from clac_core.inference import engine_summary

    made: list[_FakeGpuIndex] = []
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 2)
    monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", lambda ix: made.append(_FakeGpuIndex(ix)) or made[-1])
    idx = synthetic_index(3_000)
    assert idx.engine.gpus == 2 and idx.engine.gpu_ann is made[0]
    q = idx.embeddings[5]
    hits = idx.search(q, 10)
    assert made[0].calls == 1
    assert list(hits["row"]) == list(numpy_top(idx.embeddings, q, 10)[0])
    filtered = idx.search(q, 10, SearchFilters(crystal_systems=["cubic"]))
    assert made[0].calls == 1 and set(filtered["crystal_system"]) == {"cubic"} and len(filtered) == 10
    assert engine_summary(idx) == "exact search over 3,000 crystals (unfiltered on 2 GPUs)"
    idx_cpu = synthetic_index(3_000)
    idx_cpu.engine_config = EngineConfig(use_gpu=False)
    assert idx_cpu.engine.gpus == 0 and idx_cpu.engine.gpu_ann is None


def test_shipped_index_was_made_by_the_shipped_model_and_carries_its_umap(shipped):
    """The map of the shipped index is the stored UMAP, found under the key of the shipped
    checkpoint and corpus. (From 36581f9 to the stage-8 ship the checkpoint's config.json changed,
    the manifest took the new hash, the stored UMAP kept the old key, and the map fell back to a
    PCA computed on every first visit.)"""
    from clac_core.index.projection import load_map, umap_cache_path
    from clac_core.models import checkpoint_hash

    assert shipped.manifest["checkpoint_hash"] == checkpoint_hash(REPO / "assets" / "model")
    path = umap_cache_path(shipped, SHIPPED)
    assert path.exists(), f"no UMAP stored under this index's key ({path.name})"
    assert sorted(p.name for p in SHIPPED.glob("umap_*.npz")) == [path.name]
    assert load_map(shipped, SHIPPED)["method"] == "UMAP"
