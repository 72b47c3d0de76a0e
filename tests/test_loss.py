"""ClacLoss: golden values, multi-positive targets, intra-modal terms."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from clac_core.config import LossConfig
from clac_core.loss import ClacLoss, multi_positive_info_nce


def test_golden_two_by_two():
    e = torch.eye(2)
    out = ClacLoss()(e, e, torch.tensor(1.0), torch.tensor([0, 1]))
    # each row: -log(e^1 / (e^1 + e^0)) = log(1 + e^-1)
    assert out["cross"].item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)
    assert out["loss"].item() == pytest.approx(out["cross"].item())
    assert set(out) == {"loss", "cross"}


def test_golden_asymmetric_case():
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    scale = 2.0

    # c->t logits: [[2, 1.2], [0, 1.6]]; t->c logits: [[2, 0], [1.2, 1.6]]
    def ce(row, j):
        return -(row[j] - math.log(sum(math.exp(x) for x in row)))

    c2t = (ce([2, 1.2], 0) + ce([0, 1.6], 1)) / 2
    t2c = (ce([2, 0], 0) + ce([1.2, 1.6], 1)) / 2
    got = ClacLoss()(c, t, torch.tensor(scale), torch.tensor([5, 7]))["cross"].item()
    assert got == pytest.approx((c2t + t2c) / 2, rel=1e-6)


def test_aligned_pairs_large_scale_near_zero():
    e = F.normalize(torch.randn(16, 64, generator=torch.Generator().manual_seed(0)), dim=-1)
    out = ClacLoss()(e, e, torch.tensor(100.0), torch.arange(16))
    assert out["loss"].item() < 1e-3


def test_random_pairs_scale_one_is_log_b():
    g = torch.Generator().manual_seed(1)
    b = 8
    c = F.normalize(torch.randn(b, 4096, generator=g), dim=-1)
    t = F.normalize(torch.randn(b, 4096, generator=g), dim=-1)
    assert ClacLoss()(c, t, torch.tensor(1.0), torch.arange(b))["loss"].item() == pytest.approx(
        math.log(b), abs=0.02
    )


def test_matches_clip_loss_with_unique_ids():
    g = torch.Generator().manual_seed(2)
    c = F.normalize(torch.randn(6, 16, generator=g), dim=-1)
    t = F.normalize(torch.randn(6, 16, generator=g), dim=-1)
    logits = 10.0 * c @ t.t()
    ref = (F.cross_entropy(logits, torch.arange(6)) + F.cross_entropy(logits.t(), torch.arange(6))) / 2
    got = ClacLoss()(c, t, torch.tensor(10.0), torch.tensor([3, 1, 4, 15, 9, 2]))["loss"]
    assert got.item() == pytest.approx(ref.item(), rel=1e-6)
    smooth = ClacLoss(LossConfig(label_smoothing=0.1))(c, t, torch.tensor(10.0), torch.arange(6))["loss"]
    ref_s = (
        F.cross_entropy(logits, torch.arange(6), label_smoothing=0.1)
        + F.cross_entropy(logits.t(), torch.arange(6), label_smoothing=0.1)
    ) / 2
    assert smooth.item() == pytest.approx(ref_s.item(), rel=1e-6)


def test_shared_crystal_golden_value():
    # rows 0 and 1: the same crystal with two texts; row 2 another crystal; scale 1
    c = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    t = c.clone()
    e = math.e
    # rows 0/1: the other copy is masked -> logits [1, 0] -> log(1 + e^-1);
    # row 2: logits [0, 0, 1] -> log(2 + e) - 1; symmetric in both directions
    expected = (2 * math.log(1 + 1 / e) + math.log(2 + e) - 1) / 3
    got = ClacLoss()(c, t, torch.tensor(1.0), torch.tensor([4, 4, 9]))["loss"].item()
    assert got == pytest.approx(expected, rel=1e-6)
    # label smoothing over the unmasked columns stays finite
    smooth = ClacLoss(LossConfig(label_smoothing=0.1))(c, t, torch.tensor(1.0), torch.tensor([4, 4, 9]))[
        "loss"
    ]
    assert torch.isfinite(smooth) and smooth.item() > got


def test_shared_crystal_is_not_a_negative():
    # one crystal (rows 0, 1 share its embedding) described by two different texts, each
    # well aligned with it. With unique ids the other text of the same crystal is a
    # negative as close as the positive, so the loss is stuck near log 2; with the shared id
    # it is masked out and the loss goes to ~0.
    c = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    t = torch.tensor([[0.8, 0.6, 0.0], [0.8, -0.6, 0.0], [0.0, 0.0, 1.0]])
    scale = torch.tensor(20.0)
    l_shared = ClacLoss()(c, t, scale, torch.tensor([0, 0, 1]))["loss"].item()
    l_unique = ClacLoss()(c, t, scale, torch.tensor([0, 1, 2]))["loss"].item()
    assert l_shared < 1e-3
    assert l_unique > 0.4


def test_intra_terms_and_weights():
    g = torch.Generator().manual_seed(3)
    c, t, c2, t2 = (F.normalize(torch.randn(4, 8, generator=g), dim=-1) for _ in range(4))
    ids = torch.arange(4)
    scale = torch.tensor(5.0)
    cfg = LossConfig(cross_weight=1.0, intra_text_weight=0.5, intra_crystal_weight=0.25)
    out = ClacLoss(cfg)(c, t, scale, ids, crystal_emb2=c2, text_emb2=t2)
    assert set(out) == {"loss", "cross", "intra_text", "intra_crystal"}
    assert out["intra_text"].item() == pytest.approx(multi_positive_info_nce(t, t2, scale, ids).item())
    assert out["intra_crystal"].item() == pytest.approx(multi_positive_info_nce(c, c2, scale, ids).item())
    expected = out["cross"] + 0.5 * out["intra_text"] + 0.25 * out["intra_crystal"]
    assert out["loss"].item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="text_emb2"):
        ClacLoss(cfg)(c, t, scale, ids, crystal_emb2=c2)


def test_gradients_flow_to_embeddings_and_scale():
    g = torch.Generator().manual_seed(4)
    c = torch.randn(5, 8, generator=g, requires_grad=True)
    t = torch.randn(5, 8, generator=g, requires_grad=True)
    s = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    loss = ClacLoss()(F.normalize(c, dim=-1), F.normalize(t, dim=-1), s.exp(), torch.arange(5))["loss"]
    loss.backward()
    assert c.grad.abs().sum() > 0 and t.grad.abs().sum() > 0 and s.grad.abs() > 0


def test_shape_errors():
    with pytest.raises(ValueError, match="crystal ids"):
        ClacLoss()(torch.eye(3), torch.eye(3), torch.tensor(1.0), torch.arange(2))
    with pytest.raises(ValueError, match="B, D"):
        ClacLoss()(torch.eye(3), torch.eye(2), torch.tensor(1.0), torch.arange(3))


def test_negation_loss_is_a_two_way_choice() -> None:
    """softplus(s * (c·n - c·t)): log 2 when statement and negation are equally near, small
    when the crystal is nearer its true statement, large when nearer the negation; M = 0 is 0."""
    import math

    import torch
    import torch.nn.functional as F

    from clac_core.loss import negation_loss

    c = F.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    t = F.normalize(torch.tensor([[1.0, 0.1], [0.1, 1.0]]), dim=-1)  # near each crystal
    n = F.normalize(torch.tensor([[0.1, 1.0], [1.0, 0.1]]), dim=-1)  # far
    good, bad = negation_loss(c, t, n, 10.0), negation_loss(c, n, t, 10.0)
    assert float(good) < 0.01 < 5.0 < float(bad)
    assert math.isclose(float(negation_loss(c, t, t, 10.0)), math.log(2), rel_tol=1e-6)
    empty = torch.zeros(0, 2, requires_grad=True)
    z = negation_loss(empty, empty, empty, 10.0)
    assert float(z) == 0.0 and z.requires_grad
    with pytest.raises(ValueError, match="three"):
        negation_loss(c, t, n[:1], 10.0)


def test_clac_loss_adds_the_negation_term_with_its_weight() -> None:
    import torch
    import torch.nn.functional as F

    from clac_core.config import LossConfig
    from clac_core.loss import ClacLoss

    g = torch.Generator().manual_seed(0)
    c, t, n = (F.normalize(torch.randn(4, 8, generator=g), dim=-1) for _ in range(3))
    ids = torch.arange(4)
    plain = ClacLoss(LossConfig())(c, t, 10.0, ids)
    with_neg = ClacLoss(LossConfig(negation_weight=0.5))(c, t, 10.0, ids, negation=(c[:2], t[:2], n[:2]))
    assert "negation" not in plain and "negation" in with_neg
    assert torch.isclose(with_neg["loss"], plain["loss"] + 0.5 * with_neg["negation"])
    with pytest.raises(ValueError, match="negation"):
        ClacLoss(LossConfig(negation_weight=0.5))(c, t, 10.0, ids)
