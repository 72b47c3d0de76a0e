"""Frozen pretrained crystal features that travel with the crystal graphs (CHGNet).

The one wrapper around CHGNet (``chgnet`` 0.4.2): its wheel ships the pretrained weights
(``CHGNet.load()`` reads the packaged 0.3.0 checkpoint, a torch pickle written by the package
itself, never a user's file; no download), pretrained on ~1.5 M Materials Project relaxation
frames. ``predict_structure(..., return_crystal_feas=True)`` gives a 64-d crystal feature
(the pooled atom features before its energy head). Measured on 2 CPU cores: ~82 crystals/s
including CHGNet's own graph building.

The kind ``"chgnet_sites"`` (``crystal.pretrained_sites``) stores, after the same 64 columns,
CHGNet's site-level outputs: its 64-d atom features pooled by max, min and standard deviation
(an average hides the one site that sets a gap or a moment), its predicted energy per atom and
its predicted site magnetic moments (mean, max and sum of their magnitudes; CHGNet learned
them from Materials Project's DFT moments). 260 columns; the tower reads the first 64.

A crystal encoder of kind ``"chgnet"`` or ``"cgcnn+chgnet"`` reads the feature from the field
``pretrained`` of each graph: (1, F) per graph, stacked to (B, F) by :func:`collate`. Training,
eval and the index read the features from a cache (``clac_core.data.crystal_features``);
:func:`structures_to_graphs` computes them on the fly for new structures.

Shape legend: N structures, F pretrained feature width.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure
    from torch_geometric.data import Data

    from clac_core.config import CrystalEncoderConfig, ModelConfig

log = logging.getLogger(__name__)

CHGNET_DIM = 64  # CHGNet's crystal feature and atom feature width
SITE_DIM = 3 * CHGNET_DIM + 4  # pooled atom features (max, min, std), energy per atom, |magmom| mean/max/sum
FEATURE_DIMS = {"chgnet": CHGNET_DIM, "chgnet_sites": CHGNET_DIM + SITE_DIM}  # pretrained feature kind -> width F
TOWER_DIMS = dict.fromkeys(FEATURE_DIMS, CHGNET_DIM)  # the leading columns the crystal tower reads
ENCODER_FEATURES = {"chgnet": "chgnet", "cgcnn+chgnet": "chgnet"}  # encoder kind -> feature kind
CHGNET_MODEL = "0.3.0"  # the packaged weights used (part of the feature cache key)


def feature_kind(crystal_cfg: CrystalEncoderConfig) -> str | None:
    """The pretrained feature kind an encoder reads ("chgnet", or "chgnet_sites" with
    ``pretrained_sites``), or None (a plain graph encoder)."""
    kind = ENCODER_FEATURES.get(crystal_cfg.kind)
    return "chgnet_sites" if kind and crystal_cfg.pretrained_sites else kind


def feature_version(kind: str) -> str:
    """Key of the model that produced a feature kind (cache folders are named by it)."""
    if kind not in FEATURE_DIMS:
        raise ValueError(f"unknown pretrained feature kind {kind!r}; known: {sorted(FEATURE_DIMS)}")
    return f"chgnet-{CHGNET_MODEL}" + ("-sites" if kind == "chgnet_sites" else "")


def structure_key(structure: Structure) -> str:
    """Hash of a structure's lattice, fractional coordinates and species (cache key)."""
    lat = np.round(np.asarray(structure.lattice.matrix, dtype=np.float64), 6)
    fc = np.round(np.asarray(structure.frac_coords, dtype=np.float64), 6)
    z = np.asarray(structure.atomic_numbers, dtype=np.int64)
    h = hashlib.sha1(lat.tobytes() + fc.tobytes() + z.tobytes())
    return h.hexdigest()[:20]


@functools.lru_cache(maxsize=1)
def _chgnet() -> Any:
    """The packaged CHGNet, loaded once per process on the CPU (its banner silenced)."""
    import contextlib
    import io

    from chgnet.model import CHGNet

    with contextlib.redirect_stdout(io.StringIO()):
        model = CHGNet.load(model_name=CHGNET_MODEL, use_device="cpu", verbose=False)
    return model.eval()


def site_row(prediction: dict[str, Any]) -> np.ndarray:
    """(SITE_DIM,) site-level columns of one CHGNet prediction (``atom_fea`` (n, 64), ``e``, ``m`` (n,))."""
    atoms = np.asarray(prediction["atom_fea"], dtype=np.float64).reshape(-1, CHGNET_DIM)  # (n, 64)
    moments = np.abs(np.asarray(prediction["m"], dtype=np.float64).ravel())  # (n,)
    energy = float(np.ravel(prediction["e"])[0])
    extras = [energy, moments.mean(), moments.max(), moments.sum()]
    return np.concatenate([atoms.max(0), atoms.min(0), atoms.std(0), extras]).astype(np.float32)


def _predict(structures: Sequence[Structure], batch_size: int, kind: str = "chgnet") -> np.ndarray:
    import warnings

    sites = kind == "chgnet_sites"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CHGNet's own requires_grad scalar warning
        out = _chgnet().predict_structure(
            list(structures), task="em" if sites else "e", return_crystal_feas=True,
            return_atom_feas=sites, batch_size=batch_size,
        )  # fmt: skip
    out = [out] if isinstance(out, dict) else out
    rows = [np.asarray(o["crystal_fea"], dtype=np.float32) for o in out]
    if sites:
        rows = [np.concatenate([r, site_row(o)]) for r, o in zip(rows, out, strict=True)]
    return np.stack(rows)


def chgnet_features(
    structures: Sequence[Structure], *, batch_size: int = 64, progress: bool = False, kind: str = "chgnet"
) -> np.ndarray:
    """CHGNet features of ``kind`` ("chgnet": (N, 64); "chgnet_sites": (N, 260)), float32. A
    structure CHGNet cannot featurize (e.g. an atom with no neighbour within its 5 Å cutoff) gets
    a zero row, counted in a warning."""
    from tqdm.auto import tqdm

    out = np.zeros((len(structures), FEATURE_DIMS[kind]), np.float32)
    failed = 0
    for i in tqdm(range(0, len(structures), batch_size), desc="CHGNet features", disable=not progress):
        part = structures[i : i + batch_size]
        try:
            out[i : i + len(part)] = _predict(part, batch_size, kind)
        except Exception:  # one bad structure fails its batch: redo it one by one
            for k, s in enumerate(part):
                try:
                    out[i + k] = _predict([s], 1, kind)[0]
                except Exception:
                    failed += 1
    if failed:
        log.warning(
            "CHGNet could not featurize %d of %d structures (zero features used)", failed, len(structures)
        )
    return out


def pretrained_features(kind: str, structures: Sequence[Structure], *, progress: bool = False) -> np.ndarray:
    """(N, F) features of ``kind`` computed now (no cache)."""
    feature_version(kind)  # raises for an unknown kind
    return chgnet_features(structures, progress=progress, kind=kind)


def attach_features(graphs: Sequence[Data], features: np.ndarray) -> list[Data]:
    """Set ``pretrained`` (1, F) on each graph from the (N, F) rows of ``features``."""
    import torch

    if len(graphs) != len(features):
        raise ValueError(f"{len(features)} feature rows for {len(graphs)} graphs")
    for g, row in zip(graphs, features, strict=True):
        g.pretrained = torch.from_numpy(np.array(row, dtype=np.float32).reshape(1, -1))
    return list(graphs)


def structures_to_graphs(
    structures: Sequence[Structure], model_cfg: ModelConfig, *, features: np.ndarray | None = None
) -> list[Data]:
    """Graphs of ``structures`` for a model: with the pretrained features its crystal encoder
    reads (``features`` if given, else computed now), plain graphs otherwise."""
    from clac_core.graph.featurize import structure_to_graph

    graphs = [structure_to_graph(s, model_cfg.graph) for s in structures]
    kind = feature_kind(model_cfg.crystal)
    if kind is None:
        return graphs
    return attach_features(graphs, pretrained_features(kind, structures) if features is None else features)
