"""``clac embed``: embed structures or texts with a checkpoint.

Examples::

    clac embed --checkpoint assets/model --structures a.cif b.cif cifs/ --out crystals.parquet
    clac embed --checkpoint assets/model --texts queries.txt --out queries.npy

Output by suffix: ``.npy`` = (B, D) float32 array of L2-normalized embeddings in input
order; ``.parquet`` = columns ``id`` (``file name#index`` for structures, ``line number``
(1-based) for texts) and ``embedding`` (list of D floats).
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".json", ".xyz", ".cssr", ".res", ".mcif")


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint",
        required=True,
        type=Path,
        help="checkpoint directory (config.json + model.safetensors)",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--structures", nargs="+", type=Path, metavar="PATH", help="structure files and/or directories"
    )
    src.add_argument(
        "--texts", type=Path, metavar="FILE", help="text file, one text per line (blank lines skipped)"
    )
    p.add_argument("--out", required=True, type=Path, help="output .npy or .parquet")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--strict", action="store_true", help="stop at the first bad structure file (default: skip it)")


def _structure_files(paths: list[Path], bad: list[str]) -> list[Path]:
    """Files named or found in folders; a path that does not exist goes to ``bad``."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(
                f
                for f in p.iterdir()
                if f.is_file()
                and (f.suffix.lower() in STRUCTURE_SUFFIXES or "POSCAR" in f.name or "CONTCAR" in f.name)
            )
            if not found:
                bad.append(f"{p}: no structure files ({', '.join(STRUCTURE_SUFFIXES)}, POSCAR) in this folder")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            bad.append(f"{p}: no such file or folder")
    return files


def load_structures(
    paths: list[Path], *, strict: bool = False, skipped: list[str] | None = None
) -> tuple[list[str], list[Any]]:
    """Read every structure in files/directories; ids are ``file name#index``.

    Every file goes through :func:`clac_core.io.read_structures`. A bad file or a missing
    path is skipped with its reason appended to ``skipped``; ``strict=True`` raises
    instead (``FileNotFoundError`` for a missing path, the reader's ``ValueError`` for a
    bad file).
    """
    from clac_core.io import StructureReadError, read_structures

    bad: list[str] = []
    files = _structure_files(paths, bad)
    if bad and strict:
        raise FileNotFoundError(bad[0])
    ids: list[str] = []
    structures: list[Any] = []
    for f in files:
        try:
            found = read_structures(f)
        except StructureReadError as exc:
            if strict:
                raise
            bad.append(str(exc) if f.name in str(exc) else f"{f}: {exc}")
            continue
        for i, s in enumerate(found):
            ids.append(f"{f.name}#{i}")
            structures.append(s)
    if skipped is not None:
        skipped.extend(bad)
    return ids, structures


def load_texts(path: Path) -> tuple[list[str], list[str]]:
    """Non-blank lines of a text file; ids are 1-based line numbers (as strings)."""
    if not path.is_file():
        raise FileNotFoundError(f"texts file not found: {path}")
    ids, texts = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            ids.append(str(n))
            texts.append(line.strip())
    if not texts:
        raise ValueError(f"{path} contains no texts")
    return ids, texts


ProgressFn = Callable[[str, int, int], None]  # (desc, done, total), e.g. a Streamlit bar

class _TurnLock:
    """A lock handed out in arrival order (tickets), so callers take turns batch by batch.

    ``threading.Lock`` is not fair: a thread that releases it and asks again at once mostly
    gets it back, so a search could wait for a whole index build. A caller interrupted while
    waiting gives up its turn without blocking the ones behind it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0  # the next ticket to hand out
        self._serving = 0  # the ticket whose holder may run
        self._abandoned: set[int] = set()

    def __enter__(self) -> None:
        with self._cond:
            ticket = self._next
            self._next += 1
            try:
                while self._serving != ticket:
                    self._cond.wait()
            except BaseException:
                if self._serving == ticket:
                    self._advance()
                else:
                    self._abandoned.add(ticket)
                raise

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._advance()

    def _advance(self) -> None:  # called with the condition held
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._cond.notify_all()


# One batch through a model at a time per process, callers in turn. A server's sessions share
# one model in threads; on a CPU each forward already uses every core, so concurrent forwards
# add no throughput, but each holds its own activations in its own malloc arena. Measured with
# the shipped model on 2 cores: 10 threads encoding 24 texts each at once raised RSS by
# 440-510 MB at the peak (and left it ~130 MB higher after each round); one at a time +62 MB.
# A caller waits for the batches queued before its own, never for a whole build to end.
_FORWARD_TURNS = _TurnLock()


def _batched(
    n: int,
    batch_size: int,
    encode: Callable[[int, int], Any],
    *,
    dim: int,
    desc: str,
    bar: bool,
    callback: ProgressFn | None,
) -> Any:
    """The one batching loop: ``encode(i, j)`` -> (j - i, D) tensor for rows i..j-1.

    Returns (n, D) float32 numpy; a tqdm bar when ``bar``; ``callback(desc, done, n)`` after
    each batch.
    """
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    out = []
    with torch.no_grad(), tqdm(total=n, desc=desc, disable=not bar, leave=False) as pbar:
        for i in range(0, n, batch_size):
            j = min(i + batch_size, n)
            with _FORWARD_TURNS:
                out.append(encode(i, j).detach().float().cpu().numpy())
            pbar.update(j - i)
            if callback is not None:
                callback(desc, j, n)
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)


def _device(model: Any) -> Any:
    return next(model.parameters()).device


def embed_graphs(
    model: Any,
    graphs: Sequence[Any],
    batch_size: int = 256,
    progress: bool = True,
    *,
    callback: ProgressFn | None = None,
    desc: str = "crystals",
) -> Any:
    """Normalized crystal embeddings (B, D) float32 numpy of prebuilt graphs (model's graph config)."""
    from clac_core.graph import collate

    model.eval()
    device = _device(model)
    return _batched(
        len(graphs),
        batch_size,
        lambda i, j: model.encode_crystal(collate(graphs[i:j]).to(device)),
        dim=model.cfg.embed_dim,
        desc=desc,
        bar=progress,
        callback=callback,
    )


def embed_structures(
    model: Any,
    structures: Sequence[Any],
    batch_size: int = 64,
    progress: bool = True,
    *,
    callback: ProgressFn | None = None,
    desc: str = "crystals",
) -> Any:
    """Normalized crystal embeddings (B, D) float32 numpy; graphs are built batch by batch (with
    frozen CHGNet features computed on the fly when the model's crystal encoder reads them)."""
    from clac_core.graph.cache import collate
    from clac_core.graph.pretrained import structures_to_graphs

    model.eval()
    device = _device(model)

    def encode(i: int, j: int) -> Any:
        return model.encode_crystal(collate(structures_to_graphs(structures[i:j], model.cfg)).to(device))

    return _batched(
        len(structures), batch_size, encode, dim=model.cfg.embed_dim, desc=desc, bar=progress, callback=callback
    )


def _aux_names(model: Any) -> list[str]:
    """The model's aux-head properties ([] without a head)."""
    names = list(getattr(model.cfg, "aux_properties", []) or [])
    return names if names and getattr(model, "aux_head", None) is not None else []


def predict_graphs(model: Any, graphs: Sequence[Any], batch_size: int = 256, progress: bool = False) -> Any:
    """Aux-head property predictions (B, K) float64 numpy in physical units of prebuilt graphs,
    columns in ``model.cfg.aux_properties`` order; (B, 0) for a model without the head."""
    import numpy as np

    from clac_core.data import inverse_aux_transform
    from clac_core.graph import collate

    names = _aux_names(model)
    if not names:
        return np.zeros((len(graphs), 0))
    model.eval()
    device = _device(model)
    raw = _batched(
        len(graphs),
        batch_size,
        lambda i, j: model.predict_properties(collate(graphs[i:j]).to(device)),
        dim=len(names),
        desc="property predictions",
        bar=progress,
        callback=None,
    )
    return inverse_aux_transform(raw, names)


def embed_and_predict_structures(
    model: Any,
    structures: Sequence[Any],
    batch_size: int = 64,
    progress: bool = True,
    *,
    callback: ProgressFn | None = None,
    desc: str = "crystals",
    features: Any = None,
) -> tuple[Any, Any]:
    """Normalized crystal embeddings (B, D) float32 and aux-head predictions (B, K) float64 in
    physical units (K = 0 without a head), from one forward per batch: each graph is built once.
    ``features``: (B, F) pretrained crystal features when the encoder reads them and they are
    already known (a data dir's cache); computed per batch otherwise."""
    import numpy as np

    from clac_core.data import inverse_aux_transform
    from clac_core.graph.cache import collate
    from clac_core.graph.pretrained import structures_to_graphs

    names = _aux_names(model)
    if not names:
        emb = embed_structures(model, structures, batch_size, progress, callback=callback, desc=desc)
        return emb, np.zeros((len(structures), 0))
    import torch

    model.eval()
    device, d = _device(model), model.cfg.embed_dim

    def encode(i: int, j: int) -> Any:
        f = None if features is None else features[i:j]
        emb, z = model.encode_crystal_aux(collate(structures_to_graphs(structures[i:j], model.cfg, features=f)).to(device))
        return torch.cat([emb, z * model.aux_std + model.aux_mean], dim=1)  # (b, D + K)

    out = _batched(len(structures), batch_size, encode, dim=d + len(names), desc=desc, bar=progress, callback=callback)
    return out[:, :d], inverse_aux_transform(out[:, d:], names)


def embed_texts(
    model: Any,
    texts: Sequence[str],
    batch_size: int = 64,
    progress: bool = True,
    *,
    callback: ProgressFn | None = None,
    desc: str = "texts",
) -> Any:
    """Normalized text embeddings (B, D) float32 numpy array."""
    model.eval()
    texts = list(texts)
    return _batched(
        len(texts),
        batch_size,
        lambda i, j: model.encode_text(texts[i:j]),
        dim=model.cfg.embed_dim,
        desc=desc,
        bar=progress,
        callback=callback,
    )


def write_embeddings(path: Path, ids: list[str], emb: Any) -> None:
    """Write (B, D) embeddings as .npy or .parquet (id + embedding list column)."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, emb)
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {"id": pa.array(ids, pa.string()), "embedding": pa.array(list(emb), pa.list_(pa.float32()))}
        )
        pq.write_table(table, path)
    else:
        raise ValueError(f"--out must end in .npy or .parquet, got {path.name!r}")


def run(args: argparse.Namespace) -> int:
    """Exit 0: everything embedded; 1: a user error, or bad files skipped (the rest written)."""
    if args.out.suffix.lower() not in (".npy", ".parquet"):
        print(f"clac embed: --out must end in .npy or .parquet, got {args.out.name!r}", file=sys.stderr)
        return 2
    from clac_core.logs import report_skipped
    from clac_core.models.clip import CLaCModel

    progress = not args.quiet
    skipped: list[str] = []
    try:
        if args.structures:
            ids, structures = load_structures(list(args.structures), strict=args.strict, skipped=skipped)
            report_skipped("clac embed", skipped, "structure files")
            if not structures:
                print("clac embed: no structures read; nothing written", file=sys.stderr)
                return 1
            model = CLaCModel.from_checkpoint(args.checkpoint, device=args.device, load_text_backbone=False)
            emb = embed_structures(model, structures, args.batch_size, progress)
        else:
            ids, texts = load_texts(args.texts)
            model = CLaCModel.from_checkpoint(args.checkpoint, device=args.device)
            emb = embed_texts(model, texts, args.batch_size, progress)
    except (FileNotFoundError, ValueError, OSError) as exc:
        print(f"clac embed: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    write_embeddings(args.out, ids, emb)
    print(f"wrote {emb.shape[0]} x {emb.shape[1]} embeddings to {args.out}")
    return 1 if skipped else 0
