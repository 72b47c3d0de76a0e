"""Crystal encoders: CGCNN (default), SchNet, and frozen CHGNet features alone or beside CGCNN,
all ``forward(batch) -> (B, out_dim)``.

Both consume batches from :func:`clac_core.graph.collate` (fields ``z``, ``edge_index``,
``edge_dist``, ``batch``) and never recompute neighbours, so periodic images found by the
featurizer are used as they are. Pooling is :func:`mean_pool` (a vectorized scatter mean),
so a supercell of a crystal gets the same embedding as its primitive cell. With
``graph_cfg.symmetry`` the pooled atoms are concatenated with a :class:`SymmetryEmbedding`
of the crystal's space group and conventional-cell shape before the head (late fusion):
message passing over nearest neighbours alone cannot tell, say, a cubic from a slightly
tetragonal cell, and crystal-system prompts need exactly that.
CGCNN and the CHGNet-feature encoders run on plain PyTorch: :class:`FactorizedCGConv` holds
PyG ``CGConv``'s parameters under the same names and computes the same output (tested), so
loading a model for inference never imports torch_geometric (its import costs ~3 s on 2 cores,
mostly ``torch._dynamo``). SchNet reuses PyG's blocks and imports them when built.

Shape legend: N atoms, E edges, G Gaussians, F element (or pretrained crystal) features,
H hidden, B crystals, L lattice features.
"""

from __future__ import annotations

import torch
from torch import nn

from clac_core.config import CrystalEncoderConfig, GraphConfig
from clac_core.graph import NUM_LATTICE_FEATURES, element_features, gaussian_expand
from clac_core.graph.pretrained import TOWER_DIMS, feature_kind
from clac_core.symmetry import CRYSTAL_SYSTEMS, crystal_system_from_number


class ElementEmbedding(nn.Module):
    """Fixed elemental property table (see :func:`clac_core.graph.element_features`) -> Linear."""

    def __init__(self, hidden_dim: int) -> None:
        super().__init__()
        table = element_features()  # (119, F)
        # non-persistent: the packaged table (clac_core/resources), not stored in checkpoints
        self.register_buffer("table", table, persistent=False)
        self.proj = nn.Linear(table.shape[1], hidden_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (N,) long -> (N, H)."""
        return self.proj(self.table[z])


class SymmetryEmbedding(nn.Module):
    """Space group (1..230, 0 = unknown) + its crystal system + cell shape -> (B, H).

    The crystal system is derived from the space-group number in the module (a fixed
    lookup), so rare space groups still share the embedding of their system.
    """

    def __init__(self, hidden_dim: int) -> None:
        super().__init__()
        system = torch.zeros(231, dtype=torch.long)  # 0 = unknown, k = CRYSTAL_SYSTEMS[k - 1]
        for n in range(1, 231):
            system[n] = CRYSTAL_SYSTEMS.index(crystal_system_from_number(n)) + 1
        self.register_buffer("system_of", system, persistent=False)
        self.spacegroup = nn.Embedding(231, hidden_dim)
        self.system = nn.Embedding(len(CRYSTAL_SYSTEMS) + 1, hidden_dim)
        self.lattice = nn.Sequential(nn.Linear(NUM_LATTICE_FEATURES, hidden_dim), nn.Softplus())
        for emb in (self.spacegroup, self.system):
            nn.init.normal_(emb.weight, std=0.1)

    def forward(self, sg: torch.Tensor, lat: torch.Tensor) -> torch.Tensor:
        """sg (B,) long, lat (B, L) -> (B, H)."""
        sg = sg.clamp(0, 230)
        return self.spacegroup(sg) + self.system(self.system_of[sg]) + self.lattice(lat)


def _with_symmetry(module: nn.Module, pooled: torch.Tensor, batch) -> torch.Tensor:
    """(B, H) pooled atoms -> (B, 2H) with the symmetry embedding, or unchanged."""
    if module.symmetry is None:
        return pooled
    if getattr(batch, "sg", None) is None or getattr(batch, "lat", None) is None:
        raise ValueError(
            "this crystal encoder was built with graph.symmetry=True but the batch has no "
            "sg/lat fields: build graphs with the model's own graph config (model.cfg.graph)"
        )
    return torch.cat([pooled, module.symmetry(batch.sg, batch.lat.to(pooled.dtype))], dim=-1)


def mean_pool(x: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Mean of the rows of ``x`` (N, H) per group ``index`` (N,) long in [0, size) -> (size, H);
    an empty group gives zeros (as PyG's ``global_mean_pool`` / ``scatter(reduce="mean")``)."""
    total = x.new_zeros((size, x.shape[-1])).index_add_(0, index, x)  # (size, H)
    count = x.new_zeros(size).index_add_(0, index, x.new_ones(index.shape[0]))  # (size,)
    return total / count.clamp(min=1).unsqueeze(-1)


class FactorizedCGConv(nn.Module):
    """PyG's ``CGConv(channels, dim, aggr="mean", batch_norm=True)`` in plain PyTorch, with a
    cheaper forward.

    Output: ``x_i + BN(mean_j sigmoid(z_ij W_f + b_f) * softplus(z_ij W_s + b_s))`` with
    ``z_ij = [x_i, x_j, e_ij]`` (Xie & Grossman's gated convolution). The parameters carry
    CGConv's names (``lin_f``, ``lin_s``, ``bn``), so checkpoints load either way. A linear map
    of a concatenation is the sum of the maps of its parts, so the node blocks run once per
    *atom* (N x H x 4H) and are gathered per edge; only the Gaussian block runs per edge. With
    ~12 edges per atom this cuts the FLOPs of a layer about 4x at H=128. The output equals
    CGConv's up to float rounding (tested).
    """

    def __init__(self, channels: int, dim: int, aggr: str = "mean", batch_norm: bool = True) -> None:
        super().__init__()
        if aggr not in ("mean", "sum", "add"):
            raise ValueError(f"aggr must be 'mean' or 'sum', not {aggr!r}")
        self.channels, self.dim, self.aggr = channels, dim, aggr
        self.lin_f = nn.Linear(2 * channels + dim, channels)
        self.lin_s = nn.Linear(2 * channels + dim, channels)
        self.bn = nn.BatchNorm1d(channels) if batch_norm else None

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        """x (N, H), edge_index (2, E) [j, i], edge_attr (E, G) -> (N, H)."""
        h, n = x.shape[-1], x.shape[0]
        src, dst = edge_index[0], edge_index[1]  # neighbour j, center i
        w = torch.cat([self.lin_f.weight, self.lin_s.weight], dim=0)  # (2H, 2H + G)
        b = torch.cat([self.lin_f.bias, self.lin_s.bias], dim=0)  # (2H,)
        node_i = x @ w[:, :h].t()  # (N, 2H), acting on x_i
        node_j = x @ w[:, h : 2 * h].t()  # (N, 2H), acting on x_j
        pre = node_i[dst] + node_j[src] + torch.addmm(b, edge_attr, w[:, 2 * h :].t())  # (E, 2H)
        f, s_ = pre.split(h, dim=-1)
        msg = f.sigmoid() * torch.nn.functional.softplus(s_)  # (E, H)
        if self.aggr == "mean":
            out = mean_pool(msg, dst, n)  # (N, H)
        else:
            out = msg.new_zeros((n, h)).index_add_(0, dst, msg)
        out = out if self.bn is None else self.bn(out)
        return out + x


class CGCNNEncoder(nn.Module):
    """Crystal Graph Convolutional Neural Network (Xie & Grossman, PRL 2018).

    Element table -> Linear, then ``num_layers`` x ``CGConv(hidden, dim=G, aggr="mean",
    batch_norm=True)`` (which already adds its input back: a residual gated convolution;
    run as :class:`FactorizedCGConv`, same parameters, ~4x fewer FLOPs) followed by
    softplus, mean pooling over atoms and a 2-layer MLP to ``out_dim``. Mean (not sum)
    aggregation keeps the message scale independent of the neighbour count.
    """

    def __init__(self, cfg: CrystalEncoderConfig, graph_cfg: GraphConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.graph_cfg = graph_cfg
        h = cfg.hidden_dim
        self.embed = ElementEmbedding(h)
        self.convs = nn.ModuleList(
            [
                FactorizedCGConv(h, dim=graph_cfg.num_gaussians, aggr="mean", batch_norm=True)
                for _ in range(cfg.num_layers)
            ]
        )
        self.act = nn.Softplus()
        self.dropout = nn.Dropout(cfg.dropout)
        self.symmetry = SymmetryEmbedding(h) if graph_cfg.symmetry else None
        head_in = 2 * h if graph_cfg.symmetry else h
        self.head = nn.Sequential(
            nn.Linear(head_in, cfg.out_dim), nn.Softplus(), nn.Linear(cfg.out_dim, cfg.out_dim)
        )

    def atom_features(self, batch) -> torch.Tensor:
        """Per-atom features after message passing, (N, H)."""
        x = self.embed(batch.z)  # (N, H)
        edge_attr = gaussian_expand(batch.edge_dist.to(x.dtype), self.graph_cfg)  # (E, G)
        for conv in self.convs:
            x = self.dropout(self.act(conv(x, batch.edge_index, edge_attr)))  # (N, H)
        return x

    def forward(self, batch) -> torch.Tensor:
        """Batch of B crystal graphs -> (B, out_dim)."""
        x = self.atom_features(batch)
        pooled = mean_pool(x, batch.batch, batch.num_graphs)  # (B, H)
        return self.head(_with_symmetry(self, pooled, batch))  # (B, H or 2H) -> (B, out_dim)


class SchNetEncoder(nn.Module):
    """SchNet (Schütt et al. 2018) interaction blocks over the precomputed periodic edges.

    Why SchNet as the second encoder: its continuous-filter convolution (filters generated
    from the interatomic distance) is the standard alternative to CGCNN's gated convolution
    and ships with torch_geometric (``torch_geometric.nn.models.schnet``); equivariant models
    such as PaiNN are not part of PyG. We reuse ``InteractionBlock`` and
    ``GaussianSmearing`` but not ``SchNet.forward``, which would call ``radius_graph`` on
    Cartesian positions and lose periodicity.

    The smooth cosine cutoff of the filters is placed at ``1.5 * graph_cfg.cutoff`` so that
    edges found by the featurizer's enlarged-radius fallback still carry a signal.
    """

    def __init__(self, cfg: CrystalEncoderConfig, graph_cfg: GraphConfig) -> None:
        super().__init__()
        from torch_geometric.nn.models.schnet import GaussianSmearing, InteractionBlock, ShiftedSoftplus

        self.cfg = cfg
        self.graph_cfg = graph_cfg
        h = cfg.hidden_dim
        self.envelope_cutoff = 1.5 * graph_cfg.cutoff
        self.embed = ElementEmbedding(h)
        self.smearing = GaussianSmearing(0.0, graph_cfg.cutoff, graph_cfg.num_gaussians)
        self.interactions = nn.ModuleList(
            [
                InteractionBlock(h, graph_cfg.num_gaussians, h, self.envelope_cutoff)
                for _ in range(cfg.num_layers)
            ]
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.atom_mlp = nn.Sequential(nn.Linear(h, h), ShiftedSoftplus(), nn.Linear(h, h))
        self.symmetry = SymmetryEmbedding(h) if graph_cfg.symmetry else None
        head_in = 2 * h if graph_cfg.symmetry else h
        self.head = nn.Sequential(
            nn.Linear(head_in, cfg.out_dim), ShiftedSoftplus(), nn.Linear(cfg.out_dim, cfg.out_dim)
        )

    def atom_features(self, batch) -> torch.Tensor:
        """Per-atom features after the interaction blocks, (N, H)."""
        x = self.embed(batch.z)  # (N, H)
        dist = batch.edge_dist.to(x.dtype).clamp(max=0.999 * self.envelope_cutoff)  # (E,)
        edge_attr = self.smearing(dist)  # (E, G)
        for block in self.interactions:
            x = x + self.dropout(block(x, batch.edge_index, dist, edge_attr))  # residual, (N, H)
        return self.atom_mlp(x)

    def forward(self, batch) -> torch.Tensor:
        """Batch of B crystal graphs -> (B, out_dim)."""
        x = self.atom_features(batch)
        pooled = mean_pool(x, batch.batch, batch.num_graphs)  # (B, H)
        return self.head(_with_symmetry(self, pooled, batch))  # (B, H or 2H) -> (B, out_dim)


# --------------------------------------------------------------------------------------
# encoders over frozen pretrained crystal features (CHGNet), alone or beside CGCNN
# --------------------------------------------------------------------------------------
# Kind "chgnet": the frozen 64-d CHGNet crystal feature of each crystal (batch field
# ``pretrained``, see clac_core.graph.pretrained) -> BatchNorm (the features are not
# standardized) -> Linear to H, with the symmetry embedding when graph.symmetry, -> the 2-layer
# head. CHGNet's message passing (pretrained on ~1.5 M Materials Project frames) is not trained
# here. Kind "cgcnn+chgnet": CGCNN's pooled atoms concatenated with the projected CHGNet feature
# (and the symmetry embedding) before the head, so the graph network learns what the frozen
# feature misses. Both take CGCNN's batches; the model API stays encode_crystal(batch).


def pretrained_batch(batch, width: int, start: int = 0) -> torch.Tensor:
    """(B, width) columns ``start:start + width`` of the batch's frozen features, or a clear error
    when the graphs were built without them (or with a narrower kind, e.g. "chgnet" where the
    model also reads the "chgnet_sites" columns)."""
    feats = getattr(batch, "pretrained", None)
    if feats is None or feats.shape[-1] < start + width:
        raise ValueError(
            "this model reads frozen pretrained crystal features (batch field 'pretrained', "
            f"columns {start}-{start + width}); build graphs with clac_core.graph.pretrained.structures_to_graphs(structures, "
            "model.cfg) or attach the cached features of its kind to the graph cache"
        )
    return feats[:, start : start + width]


class PretrainedFeatureProjection(nn.Module):
    """(B, F) frozen features -> BatchNorm -> Linear -> Softplus, (B, H)."""

    def __init__(self, width: int, hidden_dim: int) -> None:
        super().__init__()
        self.width = width
        self.net = nn.Sequential(nn.BatchNorm1d(width), nn.Linear(width, hidden_dim), nn.Softplus())

    def forward(self, batch, dtype: torch.dtype) -> torch.Tensor:
        feats = pretrained_batch(batch, self.width).to(dtype)  # (B, F)
        norm = self.net[0]
        if self.training and feats.shape[0] == 1:  # batch statistics of one crystal are undefined
            feats = nn.functional.batch_norm(
                feats, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps
            )
            return self.net[2](self.net[1](feats))
        return self.net(feats)  # (B, H)


class PretrainedEncoder(nn.Module):
    """Kind ``"chgnet"``: frozen features (+ symmetry) -> head, ``forward(batch) -> (B, out_dim)``."""

    def __init__(self, cfg: CrystalEncoderConfig, graph_cfg: GraphConfig) -> None:
        super().__init__()
        self.cfg, self.graph_cfg = cfg, graph_cfg
        h = cfg.hidden_dim
        self.features = PretrainedFeatureProjection(TOWER_DIMS[feature_kind(cfg)], h)
        self.symmetry = SymmetryEmbedding(h) if graph_cfg.symmetry else None
        self.dropout = nn.Dropout(cfg.dropout)
        head_in = 2 * h if graph_cfg.symmetry else h
        self.head = nn.Sequential(
            nn.Linear(head_in, cfg.out_dim), nn.Softplus(), nn.Linear(cfg.out_dim, cfg.out_dim)
        )

    def forward(self, batch) -> torch.Tensor:
        """Batch of B crystal graphs carrying ``pretrained`` (B, F) -> (B, out_dim)."""
        h = self.dropout(self.features(batch, self.head[0].weight.dtype))  # (B, H)
        return self.head(_with_symmetry(self, h, batch))


class CGCNNPretrainedEncoder(CGCNNEncoder):
    """Kind ``"cgcnn+chgnet"``: [CGCNN pooled atoms, projected frozen features, symmetry] -> head."""

    def __init__(self, cfg: CrystalEncoderConfig, graph_cfg: GraphConfig) -> None:
        super().__init__(cfg, graph_cfg)
        h = cfg.hidden_dim
        self.features = PretrainedFeatureProjection(TOWER_DIMS[feature_kind(cfg)], h)
        head_in = (3 if graph_cfg.symmetry else 2) * h
        self.head = nn.Sequential(
            nn.Linear(head_in, cfg.out_dim), nn.Softplus(), nn.Linear(cfg.out_dim, cfg.out_dim)
        )

    def forward(self, batch) -> torch.Tensor:
        """Batch of B crystal graphs carrying ``pretrained`` (B, F) -> (B, out_dim)."""
        x = self.atom_features(batch)  # (N, H)
        pooled = mean_pool(x, batch.batch, batch.num_graphs)  # (B, H)
        both = torch.cat([pooled, self.features(batch, pooled.dtype)], dim=-1)  # (B, 2H)
        return self.head(_with_symmetry(self, both, batch))  # (B, 2H or 3H) -> (B, out_dim)


CRYSTAL_ENCODERS: dict[str, type[nn.Module]] = {
    "cgcnn": CGCNNEncoder,
    "schnet": SchNetEncoder,
    "chgnet": PretrainedEncoder,
    "cgcnn+chgnet": CGCNNPretrainedEncoder,
}


def build_crystal_encoder(cfg: CrystalEncoderConfig, graph_cfg: GraphConfig) -> nn.Module:
    """Instantiate the encoder named by ``cfg.kind``."""
    try:
        cls = CRYSTAL_ENCODERS[cfg.kind]
    except KeyError:
        raise ValueError(
            f"unknown crystal encoder kind {cfg.kind!r}; choose from {sorted(CRYSTAL_ENCODERS)}"
        ) from None
    return cls(cfg, graph_cfg)
