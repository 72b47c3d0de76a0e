"""``clac index build`` under torchrun: two CPU ranks (gloo) each embed their shard into the
shared work folder, rank 0 merges, and the index equals the one a single process builds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from helpers import tiny_csv


def _args(tiny: tuple[Path, Path], csv: Path) -> list[str]:
    # 12 crystals in chunks of 4: rank 0 embeds chunks 0 and 2, rank 1 chunk 1
    return ["index", "build", "--checkpoint", str(tiny[0]), "--source", f"csv:{csv}", "--max-descriptions", "10",
            "--chunk-size", "4", "--device", "cpu"]


def test_torchrun_build_equals_a_single_process_build(tiny, tmp_path, train_kit):
    from clac_core.cli import main
    from clac_core.index import CorpusIndex

    csv = tmp_path / "t.csv"
    csv.write_text(tiny_csv(12), encoding="utf-8")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "clac_core.cli", *_args(tiny, csv), "--out", str(tmp_path / "ranks")]
    res = subprocess.run(cmd, env=train_kit.env(), cwd=train_kit.repo, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "rank 1/2: embedding shard 1/2" in res.stderr
    assert "rank 0/2: every shard done; merging 3 chunks" in res.stderr
    assert not (tmp_path / "ranks.partial").exists()  # rank 0 removed the work folder after the merge
    assert main([*_args(tiny, csv), "--out", str(tmp_path / "one")]) == 0
    ranks, one = CorpusIndex.load(tmp_path / "ranks"), CorpusIndex.load(tmp_path / "one")
    assert len(ranks) == 12
    assert list(ranks.metadata["crystal_id"]) == list(one.metadata["crystal_id"])
    # the stored float16 embeddings; the ranks split the cores, so their sums may round apart
    np.testing.assert_allclose(np.asarray(ranks.embeddings, np.float32), np.asarray(one.embeddings, np.float32),
                               atol=2e-3)
    pd.testing.assert_frame_equal(ranks.descriptions, one.descriptions)


def test_shard_under_torchrun_is_a_plain_error(tiny, tmp_path, monkeypatch, capsys):
    from clac_core.cli import main

    csv = tmp_path / "t.csv"
    csv.write_text(tiny_csv(2), encoding="utf-8")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main([*_args(tiny, csv), "--out", str(tmp_path / "ix"), "--shard", "0/2"]) == 1
    err = capsys.readouterr().err
    assert "--shard 0/2 does not go with torchrun" in err and "Traceback" not in err
    assert not (tmp_path / "ix.partial").exists()
