"""Streaming index builds: a resumed build after a kill, and shards + merge, give the index an
uninterrupted single build gives (tiny checkpoint over ``helpers.tiny_records()``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import tiny_records

CHUNK = 4  # 12 crystals -> 3 chunks


@pytest.fixture(scope="module")
def model(tiny):
    from clac_core.models import CLaCModel

    return CLaCModel.from_checkpoint(tiny[0]).eval()


@pytest.fixture(scope="module")
def plan(tiny):
    from clac_core.index.stream import BuildPlan
    from clac_core.models.fingerprint import checkpoint_hash

    return BuildPlan(checkpoint=str(tiny[0]), checkpoint_hash=checkpoint_hash(tiny[0]), sources=("tiny",),
                     chunk_size=CHUNK, max_descriptions=40, seed=0)


@pytest.fixture(scope="module")
def single(model, plan, tmp_path_factory):
    from clac_core.index.stream import build_chunks, merge_chunks

    tmp = tmp_path_factory.mktemp("single")
    build_chunks(model, iter(tiny_records()), tmp / "work", plan)
    return merge_chunks(model, tmp / "work", tmp / "index")


def assert_same_index(a, b) -> None:
    np.testing.assert_allclose(a.embeddings, b.embeddings, atol=1e-6)
    pd.testing.assert_frame_equal(a.metadata, b.metadata, check_like=True)
    pd.testing.assert_frame_equal(a.descriptions, b.descriptions)
    np.testing.assert_allclose(a.desc_embeddings, b.desc_embeddings, atol=1e-6)
    assert a.manifest["checkpoint_hash"] == b.manifest["checkpoint_hash"]


def test_streamed_build_equals_the_in_memory_build(single, model, plan):
    from clac_core.index import build

    whole = build(model, tiny_records(), checkpoint=plan.checkpoint, sources=["tiny"], max_descriptions=40)
    assert_same_index(single, whole)


def test_resume_after_a_kill_gives_the_same_index(single, model, plan, tmp_path, monkeypatch):
    from clac_core.index import CorpusIndex, stream

    real = stream.embed_chunk
    calls: list[int] = []

    def killed_at_chunk_2(model, records, c, plan, *, make_texts, out, feature_cache=None):
        if c == 2:
            (out.with_name(out.name + ".tmp")).mkdir(parents=True)  # a half-written chunk
            raise KeyboardInterrupt
        calls.append(c)
        real(model, records, c, plan, make_texts=make_texts, out=out, feature_cache=feature_cache)

    monkeypatch.setattr(stream, "embed_chunk", killed_at_chunk_2)
    with pytest.raises(KeyboardInterrupt):
        stream.build_chunks(model, iter(tiny_records()), tmp_path / "work", plan)
    with pytest.raises(Exception, match="chunks finished"):
        stream.merge_chunks(model, tmp_path / "work", tmp_path / "index")
    assert not (tmp_path / "index").exists()
    monkeypatch.setattr(stream, "embed_chunk", real)
    counts = stream.build_chunks(model, iter(tiny_records()), tmp_path / "work", plan)
    assert counts == {"chunks": 3, "embedded": 1, "kept": 2} and calls == [0, 1]
    stream.merge_chunks(model, tmp_path / "work", tmp_path / "index")
    assert_same_index(CorpusIndex.load(tmp_path / "index"), CorpusIndex.load(single._folder or Path()))


def test_shards_and_merge_equal_a_single_build(single, model, plan, tmp_path):
    from clac_core.index import CorpusIndexError
    from clac_core.index.stream import build_chunks, merge_chunks

    work = tmp_path / "work"
    for i in (2, 0):
        build_chunks(model, iter(tiny_records()), work, plan, shard=(i, 3))
    with pytest.raises(CorpusIndexError, match="2 of 3 chunks"):
        merge_chunks(model, work, tmp_path / "index")
    build_chunks(model, iter(tiny_records()), work, plan, shard=(1, 3))
    assert_same_index(merge_chunks(model, work, tmp_path / "index"), single)
    other = type(plan)(**{**plan.__dict__, "seed": 1})
    with pytest.raises(CorpusIndexError, match="another build"):
        build_chunks(model, iter(tiny_records()), work, other)


def test_cli_shards_then_merge(tiny, tmp_path, single):
    from clac_core.cli import main
    from clac_core.index import CorpusIndex

    csv = tmp_path / "t.csv"
    from pymatgen.io.cif import CifWriter

    recs = tiny_records()
    pd.DataFrame({"material_id": [r.id for r in recs], "cif": [str(CifWriter(r.structure)) for r in recs]}
                 ).to_csv(csv, index=False)
    base = ["index", "build", "--checkpoint", str(tiny[0]), "--source", f"csv:{csv}", "--out",
            str(tmp_path / "ix"), "--max-descriptions", "10", "--chunk-size", "5", "--work", str(tmp_path / "w")]
    assert main([*base, "--shard", "1/2"]) == 0 and main([*base, "--shard", "0/2"]) == 0
    assert not (tmp_path / "ix").exists()
    assert main(["index", "merge", "--checkpoint", str(tiny[0]), "--work", str(tmp_path / "w"),
                 "--out", str(tmp_path / "ix")]) == 0
    idx = CorpusIndex.load(tmp_path / "ix")
    assert len(idx) == 12 and len(idx.descriptions) == 10
    assert main([*base[:-2], "--out", str(tmp_path / "ix2")]) == 0  # one process: build + merge
    assert not (tmp_path / "ix2.partial").exists()
    np.testing.assert_allclose(CorpusIndex.load(tmp_path / "ix2").embeddings, idx.embeddings, atol=1e-6)
    assert main([*base[:-4], "--out", str(tmp_path / "ix3"), "--shard", "3/2"]) == 1


def test_metadata_table_is_written_zstd_in_row_groups_and_reads_back(tmp_path: Path) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    from clac_core.index.columns import ROW_GROUP, read_metadata, write_metadata

    n = ROW_GROUP + 5
    md = pd.DataFrame({"crystal_id": [f"c{i}" for i in range(n)], "band_gap": np.linspace(0, 5, n)})
    write_metadata(md, tmp_path / "m.parquet")
    meta = pq.ParquetFile(tmp_path / "m.parquet").metadata
    assert meta.num_row_groups == 2
    assert meta.row_group(0).column(0).compression == "ZSTD"
    back = read_metadata(tmp_path / "m.parquet", lazy=False)
    pd.testing.assert_frame_equal(back[md.columns].reset_index(drop=True), md)
