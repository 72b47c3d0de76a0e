"""``clac embed`` end to end through cli.main."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from pymatgen.core import Lattice, Structure

from clac_core.config import ModelConfig
from clac_core.graph import collate, structure_to_graph
from clac_core.models import CLaCModel, save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = CLaCModel(ModelConfig()).eval()
    path = save_checkpoint(model, tmp_path_factory.mktemp("ckpt") / "model", step=0)
    return path, model


@pytest.fixture()
def cif_dir(tmp_path):
    d = tmp_path / "cifs"
    d.mkdir()
    nacl = Structure(
        Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )  # CsCl-type cell, fine for a test
    si = Structure(
        Lattice([[0, 2.715, 2.715], [2.715, 0, 2.715], [2.715, 2.715, 0]]),
        ["Si", "Si"],
        [[0, 0, 0], [0.25] * 3],
    )
    nacl.to(filename=str(d / "a_nacl.cif"))
    si.to(filename=str(d / "b_si.cif"))
    return d, [nacl, si]


def test_embed_structures_parquet_and_npy(checkpoint, cif_dir, tmp_path):
    from clac_core import embed

    ckpt, model = checkpoint
    d, structures = cif_dir
    out = tmp_path / "crystals.parquet"
    rc = _main(["embed", "--checkpoint", str(ckpt), "--structures", str(d), "--out", str(out), "--quiet"])
    assert rc == 0
    table = pq.read_table(out).to_pandas()
    assert table["id"].tolist() == ["a_nacl.cif#0", "b_si.cif#0"]
    emb = np.stack(table["embedding"].to_numpy())
    assert emb.shape == (2, 256)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    with torch.no_grad():
        ref = model.encode_crystal(collate([structure_to_graph(s) for s in structures])).numpy()
    assert np.allclose(emb, ref, atol=1e-4)
    # files instead of a directory, .npy output, same numbers
    out_npy = tmp_path / "crystals.npy"
    files = [str(d / "a_nacl.cif"), str(d / "b_si.cif")]
    assert (
        _main(["embed", "--checkpoint", str(ckpt), "--structures", *files, "--out", str(out_npy), "--quiet"])
        == 0
    )
    assert np.allclose(np.load(out_npy), emb, atol=1e-6)
    assert embed.STRUCTURE_SUFFIXES  # module importable without side effects


def test_embed_texts(checkpoint, tmp_path):
    ckpt, model = checkpoint
    texts = tmp_path / "texts.txt"
    texts.write_text("rock salt sodium chloride\n\ndiamond cubic silicon\n", encoding="utf-8")
    out = tmp_path / "texts.parquet"
    assert (
        _main(["embed", "--checkpoint", str(ckpt), "--texts", str(texts), "--out", str(out), "--quiet"]) == 0
    )
    table = pq.read_table(out).to_pandas()
    assert table["id"].tolist() == ["1", "3"]
    emb = np.stack(table["embedding"].to_numpy())
    with torch.no_grad():
        ref = model.encode_text(["rock salt sodium chloride", "diamond cubic silicon"]).numpy()
    assert np.allclose(emb, ref, atol=1e-5)


def test_embed_errors(checkpoint, tmp_path, capsys):
    ckpt, _ = checkpoint
    assert (
        _main(
            [
                "embed",
                "--checkpoint",
                str(ckpt),
                "--texts",
                str(tmp_path / "nope.txt"),
                "--out",
                str(tmp_path / "x.npy"),
            ]
        )
        == 1
    )
    assert "not found" in capsys.readouterr().err
    (tmp_path / "t.txt").write_text("x\n")
    assert (
        _main(
            [
                "embed",
                "--checkpoint",
                str(ckpt),
                "--texts",
                str(tmp_path / "t.txt"),
                "--out",
                str(tmp_path / "x.csv"),
            ]
        )
        == 2
    )


def _main(argv: list[str]) -> int:
    from clac_core import cli

    return cli.main(argv)


def test_forwards_of_concurrent_callers_run_one_batch_at_a_time() -> None:
    """A server's sessions share one model in threads: their batches must not overlap (each
    would hold its own activations; measured +440-510 MB RSS for 10 at once), but they must
    interleave by batch, so no caller waits for another's whole job."""
    import threading
    import time
    from types import SimpleNamespace

    import torch

    from clac_core.embed import embed_texts

    lock = threading.Lock()
    active, most, order = [0], [0], []

    class Model(torch.nn.Module):
        cfg = SimpleNamespace(embed_dim=3)

        def encode_text(self, texts):  # (B, 3)
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
                order.append(texts[0][0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1
            return torch.ones(len(texts), 3)

    model = Model()
    out = {}

    def job(name: str) -> None:
        out[name] = embed_texts(model, [name] * 8, batch_size=2, progress=False)

    threads = [threading.Thread(target=job, args=(n,)) for n in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1  # never two batches at once
    assert all(out[n].shape == (8, 3) for n in "abcd")
    changes = sum(a != b for a, b in zip(order, order[1:], strict=False))
    assert changes >= 8, order  # in turns (a whole job each, one after the other: 3 changes)


def test_a_caller_interrupted_while_waiting_does_not_block_the_others() -> None:
    import threading

    from clac_core.embed import _TurnLock

    class Stop(Exception):
        pass

    class StopWhileWaiting(threading.Condition):
        def wait(self, timeout=None):  # a run stopped while it waits for its turn
            raise Stop

    turns = _TurnLock()
    turns._cond = StopWhileWaiting()
    turns.__enter__()  # this thread's turn (no wait)
    stopped = []

    def waiter() -> None:
        try:
            with turns:
                pass
        except Stop:
            stopped.append(True)

    t = threading.Thread(target=waiter)
    t.start()
    t.join(5)
    assert stopped == [True]
    turns._cond = threading.Condition()  # ordinary waits from here on
    turns.__exit__(None, None, None)
    got = threading.Event()

    def next_caller() -> None:
        with turns:
            got.set()

    t2 = threading.Thread(target=next_caller, daemon=True)
    t2.start()
    t2.join(5)
    assert got.is_set()  # the abandoned turn was skipped, not waited for
