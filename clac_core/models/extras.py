"""Fixed per-crystal inputs beside the tower, read by the aux head and the crystal branch.

``model.aux_inputs`` (the aux property head) and ``model.crystal_branch`` (a learned residual
added to the crystal embedding) name inputs that are fixed functions of a crystal, nothing
learned: ``"composition"`` (the mean over a crystal's atoms of the packaged element table
rows), ``"pretrained"`` (the frozen CHGNet crystal feature, standardized by the statistics of
the tower's own batch norm over it) and ``"sites"`` (CHGNet's site-level outputs,
``crystal.pretrained_sites``, standardized by training-crystal statistics stored with the
model as ``aux_sites_mean`` / ``aux_sites_std``).

Shape legend: B crystals, N atoms, D shared embedding width.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from clac_core.config import ModelConfig

EXTRA_INPUTS = ("composition", "pretrained", "sites")  # what aux_inputs / crystal_branch may name


def extra_width(cfg: ModelConfig, names: list[str], setting: str) -> int:
    """Total width of the extra inputs ``names`` (0 for none); ``setting`` names the config key
    in messages.

    Raises:
        ValueError: an unknown input, one named twice, "pretrained" with a tower that reads
            no pretrained features, or "sites" without ``crystal.pretrained_sites``.
    """
    from clac_core.graph import element_features
    from clac_core.graph.pretrained import SITE_DIM, TOWER_DIMS, feature_kind

    names = list(names)
    unknown = sorted(set(names) - set(EXTRA_INPUTS))
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"{setting} {names}: each of {list(EXTRA_INPUTS)} at most once")
    width = 0
    if "composition" in names:
        width += int(element_features().shape[1])
    if "pretrained" in names:
        kind = feature_kind(cfg.crystal)
        if kind is None:
            raise ValueError(
                f"{setting} 'pretrained' needs a tower that reads pretrained features "
                f"(crystal.kind chgnet or cgcnn+chgnet), not {cfg.crystal.kind!r}"
            )
        width += TOWER_DIMS[kind]
    if "sites" in names:
        if feature_kind(cfg.crystal) != "chgnet_sites":
            raise ValueError(
                f"{setting} 'sites' needs CHGNet's site-level features: a cgcnn+chgnet or chgnet "
                "tower with crystal.pretrained_sites: true"
            )
        width += SITE_DIM
    return width


def extra_features(model: Any, names: list[str], batch: Any, dtype: torch.dtype) -> list[torch.Tensor]:
    """The inputs ``names`` of the batch's crystals, each (B, width), in ``names`` order
    (``model`` holds the element table and the statistics; widths checked by :func:`extra_width`)."""
    from clac_core.graph.pretrained import SITE_DIM, TOWER_DIMS
    from clac_core.models.crystal import mean_pool, pretrained_batch

    parts = []
    for name in names:
        if name == "composition":
            rows = model.aux_elements[batch.z].to(dtype)  # (N, F_el)
            parts.append(mean_pool(rows, batch.batch, batch.num_graphs))
        elif name == "sites":
            sites = pretrained_batch(batch, SITE_DIM, start=TOWER_DIMS["chgnet_sites"]).to(dtype)
            parts.append((sites - model.aux_sites_mean) / model.aux_sites_std)
        else:  # "pretrained"
            norm = model.crystal.features.net[0]  # BatchNorm1d(F) of PretrainedFeatureProjection
            feats = pretrained_batch(batch, norm.num_features).to(dtype)  # (B, F)
            parts.append(F.batch_norm(feats, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps))
    return parts


class CrystalBranch(nn.Module):
    """``model.crystal_branch``: extra inputs (B, E) -> Linear -> GELU -> Linear -> (B, D), added
    to the projected tower output before normalization. The last layer starts at zero, so a
    branch added to a trained model begins exactly at that model (as the token branch does on
    the text side)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out_dim))
        nn.init.zeros_(self.net[2].weight)
        nn.init.zeros_(self.net[2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, D)
