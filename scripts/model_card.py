"""Write assets/MODEL_CARD.md, the README results table and the UMAP figure from run files.

Every number comes from files written by the pipeline itself (``clac train`` run folder,
``clac eval`` results.json / results.md, ``clac data build`` manifest.json); nothing is retyped.

    python scripts/model_card.py --run runs/default --data data/full \
        --eval assets/eval/results.json --train-command "..." --eval-command "..."
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _fmt(v: object, nd: int = 3) -> str:
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def headline_table(res: dict) -> str:
    """Model vs every baseline on the test split, pools 100 / 1000 / all."""
    rows = ["| direction | pool | metric | CLaC | random init | lexical (TF-IDF) | text encoder only | CLaC / best baseline |",
            "|---|---|---|---|---|---|---|---|"]
    base = res["baselines"]
    for direction in ("text_to_crystal", "crystal_to_text"):
        for pool in ("pool_100", "pool_1000", "pool_all"):
            m = res["retrieval"][direction].get(pool)
            if not m:
                continue
            for metric in ("R@1", "R@10", "MRR"):
                cells = [_fmt(m[metric])]
                for name in ("random_init", "lexical", "text_encoder_only"):
                    b = base.get(name, {}).get("retrieval", {}).get(direction, {}).get(pool, {})
                    cells.append(_fmt(b.get(metric, "–")))
                ratio = base.get("ratios", {}).get(direction, {}).get(pool, {}).get(metric, "–")
                size = m.get("pool_size", "")
                rows.append(f"| {direction.replace('_', ' ')} | {pool} ({size}) | {metric} | " + " | ".join(cells) + f" | {_fmt(ratio, 2)} |")
    zs = res.get("zero_shot", {})
    lines = ["", "| zero-shot task | accuracy | macro-F1 | majority-class accuracy | random-init accuracy |", "|---|---|---|---|---|"]
    for task, r in zs.items():
        if isinstance(r, dict) and "accuracy" in r:
            lines.append(f"| {task} (n={r.get('n')}) | {_fmt(r['accuracy'])} | {_fmt(r.get('macro_f1'))} | "
                         f"{_fmt(r.get('majority', {}).get('accuracy'))} | {_fmt(r.get('random_init', {}).get('accuracy'))} |")
    ft = res["retrieval"].get("free_text")
    if ft:
        lines += ["", f"Free-text queries (precision@10 over {ft.get('n_queries_used')} of {ft.get('n_queries')} hand-written queries): "
                  f"CLaC {_fmt(ft.get('P@10'))}, chance {_fmt(ft.get('chance'))}, "
                  + ", ".join(f"{n} {_fmt(base.get(n, {}).get('retrieval', {}).get('free_text', {}).get('P@10'))}"
                              for n in ("random_init", "lexical", "text_encoder_only"))]
    return "\n".join(rows + lines)


def umap_png(checkpoint: Path, data: Path, out: Path, n: int = 1500, seed: int = 0) -> None:
    """UMAP of test-split crystals and their texts in the joint space, coloured by crystal system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    import umap

    from clac_core.corpus.record import structure_from_arrays
    from clac_core.index import encode_structures, encode_texts
    from clac_core.models import CLaCModel

    model = CLaCModel.from_checkpoint(checkpoint)
    cry = pd.read_parquet(data / "crystals.parquet")
    cry = cry[cry.split == "test"].sample(n=min(n, (cry.split == "test").sum()), random_state=seed)
    pairs = pd.read_parquet(data / "pairs.parquet", columns=["crystal_id", "text", "view"])
    pairs = pairs[pairs.crystal_id.isin(cry.crystal_id) & (pairs.view == "composition")].drop_duplicates("crystal_id")
    structures = [structure_from_arrays(r.lattice, r.frac_coords, r.atomic_numbers) for r in cry.itertuples()]
    ce = encode_structures(model, structures, batch_size=256)  # (N, D)
    te = encode_texts(model, pairs.text.tolist())  # (T, D)
    xy = umap.UMAP(n_neighbors=15, metric="cosine", random_state=seed).fit_transform(np.concatenate([ce, te]))
    systems = cry.crystal_system.tolist()
    sys_of = dict(zip(cry.crystal_id, systems, strict=True))
    tsys = [sys_of[c] for c in pairs.crystal_id]
    fig, ax = plt.subplots(figsize=(8, 6.5), dpi=120)
    names = sorted(set(systems))
    cmap = plt.get_cmap("tab10")
    for k, name in enumerate(names):
        m = np.array([s == name for s in systems])
        ax.scatter(xy[: len(ce)][m, 0], xy[: len(ce)][m, 1], s=6, color=cmap(k), label=f"{name} (crystal)")
        mt = np.array([s == name for s in tsys])
        ax.scatter(xy[len(ce):][mt, 0], xy[len(ce):][mt, 1], s=10, marker="x", color=cmap(k), alpha=0.6)
    ax.set_title(f"CLaC joint space, test split: {len(ce)} crystals (dots) + {len(te)} texts (crosses)")
    ax.set_xticks([]), ax.set_yticks([])
    ax.legend(markerscale=2, fontsize=7, loc="best")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="clac train output folder")
    p.add_argument("--data", type=Path, required=True, help="clac data build folder used for training")
    p.add_argument("--eval", type=Path, required=True, help="clac eval results.json (results.md beside it)")
    p.add_argument("--train-command", required=True)
    p.add_argument("--eval-command", required=True)
    p.add_argument("--data-command", required=True)
    p.add_argument("--out", type=Path, default=REPO / "assets" / "MODEL_CARD.md")
    p.add_argument("--readme", type=Path, default=REPO / "README.md")
    p.add_argument("--figure", type=Path, default=REPO / "assets" / "umap_test.png")
    p.add_argument("--no-figure", action="store_true")
    p.add_argument(
        "--notes",
        type=Path,
        default=REPO / "docs" / "MODEL_NOTES.md",
        help="hand-written Markdown appended as the card's Notes section (skipped if missing)",
    )
    a = p.parse_args(argv)

    res = json.loads(a.eval.read_text())
    res_md = a.eval.with_suffix(".md").read_text() if a.eval.with_suffix(".md").is_file() else ""
    info = json.loads((a.run / "train_info.json").read_text())
    manifest = json.loads((a.data / "manifest.json").read_text())
    config = (a.run / "config.yaml").read_text()
    with open(a.run / "metrics.csv") as fh:
        metrics = list(csv.DictReader(fh))
    best = next((r for r in metrics if int(r["epoch"]) == int(info.get("best_epoch", -1))), metrics[-1] if metrics else {})
    if not a.no_figure:
        umap_png(a.run / "best", a.data, a.figure)
    hours = (info["seconds"] + info.get("seconds_previous_parts", 0.0)) / 3600
    table = headline_table(res)
    card = f"""# Model card: CLaC default model (`assets/model/`)

Contrastive Language–Crystals model trained by this project's own pipeline. Every number below
is read from files the pipeline wrote (`{a.run}/train_info.json`, `metrics.csv`,
`{a.eval}`); regenerate this card with `scripts/model_card.py`.

## Data
- Built with: `{a.data_command}`
- {json.dumps(manifest.get("counts", {}))}
- Sources: prototypes (pymatgen AFLOW library, with robocrys mineral names), decorated
  prototypes (hypothetical, substitution-probability based, charge balanced), Materials Project
  `mp_37k` (formation energy, band gap, Fermi energy, magnetization, elastic moduli subset),
  `perov_5`, `carbon_24` (read from `../shared/data`, never shipped).
- Splits: train / val / test grouped by reduced formula (no formula in two splits), seed 0.

## Training
- Command: `{a.train_command}`
- Hardware: {info.get("hardware")}; wall time {hours:.2f} h; {info.get("steps")} steps,
  {info.get("epochs")} epochs over {info.get("train_crystals")} training crystals
  ({info.get("train_pairs")} training pairs, sampling: {info.get("sampling")}).
- Best epoch {info.get("best_epoch")} (validation mean R@10 {_fmt(info.get("best_val_mean_r10"))} on a pool of {info.get("val_pool")});
  its validation row: {json.dumps(best)}
- Config:

```yaml
{config.strip()}
```

## Evaluation on the test split (formulas never seen in training)
Command: `{a.eval_command}`

{table}

Full report from `clac eval` (`assets/eval/results.md`):

{res_md}
"""
    if a.notes and a.notes.is_file():
        card += f"\n## Notes (hand-written, `{a.notes.relative_to(REPO) if a.notes.is_relative_to(REPO) else a.notes}`)\n\n"
        card += a.notes.read_text(encoding="utf-8").strip() + "\n"
    a.out.write_text(card, encoding="utf-8")
    readme = a.readme.read_text()
    block = f"{START}\nTest split, generated by `{a.eval_command}` (see `assets/MODEL_CARD.md`):\n\n{table}\n\n![UMAP of the joint space](assets/umap_test.png)\n{END}"
    if START in readme:
        readme = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, readme, flags=re.S)
    else:
        readme += "\n## Results\n\n" + block + "\n"
    a.readme.write_text(readme)
    print(f"wrote {a.out}, updated {a.readme}" + ("" if a.no_figure else f", {a.figure}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
