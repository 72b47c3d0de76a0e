"""Zero-shot crystal-system accuracy and retrieval R@10 of a checkpoint on a data dir's split,
reading crystal systems from the graph cache's space groups (needs a checkpoint trained with
``graph.symmetry`` and a built graph cache; no pymatgen / spglib, so it runs on a bare GPU box).

    python benchmarks/zero_shot_subset.py RUN/best --data DIR [--split val] [--device cuda]

Prints one JSON line. Prompts are ``clac_core.evaluation.prompts.ZERO_SHOT_PROMPTS["crystal_system"]``,
labels ``clac_core.symmetry.crystal_system_from_number`` (neither imports pymatgen).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))



def system_of(sg: int) -> str | None:
    """Crystal system of a graph cache's space-group number (0 = spglib found none -> None)."""
    from clac_core.symmetry import crystal_system_from_number

    return crystal_system_from_number(sg) if 1 <= sg <= 230 else None


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    import torch

    from clac_core.data import load_data_dir, load_graph_cache, text_feature_cache
    from clac_core.evaluation.prompts import ZERO_SHOT_PROMPTS
    from clac_core.models import CLaCModel

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="val")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args(argv)
    t0 = time.time()
    model = CLaCModel.from_checkpoint(a.checkpoint, device=a.device)
    if not model.cfg.graph.symmetry:
        raise SystemExit("needs a checkpoint trained with graph.symmetry (labels come from its graph cache)")
    data = load_data_dir(a.data)
    graphs = load_graph_cache(data, model.cfg.graph, progress=False)
    crystals = data.crystals
    rows = np.flatnonzero(crystals["split"].to_numpy() == a.split)
    labels = [system_of(int(graphs.sg[i])) for i in rows]
    keep = [i for i, y in zip(rows, labels, strict=True) if y is not None]
    y_true = np.array([y for y in labels if y is not None])
    with torch.no_grad():
        emb = torch.cat(
            [model.encode_crystal(graphs.batch(keep[i : i + 256]).to(a.device)).float().cpu()
             for i in range(0, len(keep), 256)]
        )  # (n, D), normalized
        prompts = ZERO_SHOT_PROMPTS["crystal_system"]
        systems = list(prompts)
        flat = [t for s in systems for t in prompts[s]]
        if model.cfg.text.train_mode == "cached":
            feats = torch.from_numpy(text_feature_cache(a.data, flat, model.cfg.text, progress=False))
            pe = model.encode_text_features(feats.to(a.device), texts=flat).float().cpu()
        else:
            pe = model.encode_text(flat).float().cpu()  # (21, D)
    per_class = pe.view(len(systems), -1, pe.shape[-1])  # (7, prompts per class, D)
    cls = torch.nn.functional.normalize(per_class.mean(1), dim=-1)  # (7, D)
    pred = np.array(systems)[(emb @ cls.T).argmax(1).numpy()]
    majority = max((y_true == s).mean() for s in systems)
    print(json.dumps({
        "checkpoint": str(a.checkpoint), "text_train_mode": model.cfg.text.train_mode, "split": a.split,
        "n": int(len(y_true)), "zero_shot_crystal_system_acc": float((pred == y_true).mean()),
        "majority_acc": float(majority), "device": a.device, "seconds": round(time.time() - t0, 1),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
