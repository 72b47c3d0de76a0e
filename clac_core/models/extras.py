"""Fixed per-crystal inputs beside the tower, read by the aux head and the crystal branch.

``model.aux_inputs`` (the aux property head) and ``model.crystal_branch`` (a learned residual
added to the crystal embedding) name inputs that are fixed functions of a crystal, nothing
learned: ``"composition"`` (the mean over a crystal's atoms of the packaged element table
rows), ``"pretrained"`` (the frozen CHGNet crystal feature, standardized by the statistics of
the tower's own batch norm over it) and ``"sites"`` (CHGNet's site-level outputs,
``crystal.pretrained_sites``, standardized by training-crystal statistics stored with the
model as ``aux_sites_mean`` / ``aux_sites_std``).

The crystal branch may also read ``"predicted"``: the model's own aux-head predictions
(detached), standardized, beside the same number code the text tower appends to a text that
states those values (:func:`predicted_code`, the ``clac_core.query.numbers.quantity_features``
layout). A text saying "band gap 1.5 eV" and a crystal predicted at 1.5 eV then carry the same
code, which the branch can map to where the text projection puts that text. They are the
model's numbers, never a crystal's stored DFT values. In training, Gaussian noise of
``model.predicted_noise`` (standardized units) is added first: the head fits its training
crystals better than new ones, and the branch must not learn to trust it more than that.

Shape legend: B crystals, N atoms, D shared embedding width, K aux properties, Q number-code width.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from clac_core.config import ModelConfig

EXTRA_INPUTS = ("composition", "pretrained", "sites")  # what aux_inputs / crystal_branch may name
BRANCH_ONLY_INPUTS = ("predicted",)  # what only crystal_branch may name (it reads the aux head)


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
    allowed = EXTRA_INPUTS + (BRANCH_ONLY_INPUTS if setting == "model.crystal_branch" else ())
    unknown = sorted(set(names) - set(allowed))
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"{setting} {names}: each of {list(allowed)} at most once")
    width = 0
    if "predicted" in names:
        if not cfg.aux_properties:
            raise ValueError(f"{setting} 'predicted' needs an aux head (model.aux_properties)")
        width += predicted_width(cfg)
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


def predicted_width(cfg: ModelConfig) -> int:
    """Width of the ``"predicted"`` input: K standardized predictions and the number code (Q)."""
    from clac_core.query.numbers import FEATURE_DIM

    return len(cfg.aux_properties) + FEATURE_DIM


def predicted_code(values: torch.Tensor, properties: list[str]) -> torch.Tensor:
    """The number code of predicted values (B, K) in physical units -> (B, Q): per property of
    :data:`clac_core.query.numbers.GRIDS`, a presence flag and the soft membership a text stating
    that value gets (``membership`` of a "value" constraint, ``[v - step/2, v + step/2]``);
    zeros for a property the head does not predict. Values outside a grid sit at its end."""
    from clac_core.query.numbers import GRIDS

    parts = []
    for prop, g in GRIDS.items():
        if prop not in properties:
            parts.append(values.new_zeros(values.shape[0], 1 + g.n))
            continue
        v = values[:, properties.index(prop)].clamp(g.lo, g.hi).unsqueeze(-1)  # (B, 1)
        x = torch.linspace(g.lo, g.hi, g.n, dtype=values.dtype, device=values.device)  # (n,)
        s = 0.5 * g.step
        m = torch.sigmoid((x - (v - s)) / s) * torch.sigmoid(((v + s) - x) / s)  # (B, n)
        m = m / m.amax(dim=-1, keepdim=True).clamp_min(1e-12)
        parts.append(torch.cat([torch.ones_like(v), m], dim=-1))
    return torch.cat(parts, dim=-1)


def predicted_input(model: Any, z: torch.Tensor) -> torch.Tensor:
    """The ``"predicted"`` input from standardized aux predictions ``z`` (B, K) -> (B, K + Q),
    detached; noise of ``model.cfg.predicted_noise`` added in training mode."""
    z = z.detach()
    if model.training and model.cfg.predicted_noise > 0:
        z = z + model.cfg.predicted_noise * torch.randn_like(z)
    values = z * model.aux_std.to(z.dtype) + model.aux_mean.to(z.dtype)  # (B, K) physical units
    return torch.cat([z, predicted_code(values, list(model.cfg.aux_properties))], dim=-1)


def extra_features(
    model: Any, names: list[str], batch: Any, dtype: torch.dtype, *, predicted: torch.Tensor | None = None
) -> list[torch.Tensor]:
    """The inputs ``names`` of the batch's crystals, each (B, width), in ``names`` order
    (``model`` holds the element table and the statistics; widths checked by :func:`extra_width`).
    ``predicted``: the standardized aux predictions (B, K), needed when ``names`` holds "predicted"."""
    from clac_core.graph.pretrained import SITE_DIM, TOWER_DIMS
    from clac_core.models.crystal import mean_pool, pretrained_batch

    parts = []
    for name in names:
        if name == "predicted":
            if predicted is None:
                raise ValueError("the 'predicted' input needs the aux head's predictions")
            parts.append(predicted_input(model, predicted).to(dtype))
        elif name == "composition":
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
