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


def _section(md: str, heading: str) -> str:
    """The section of ``md`` whose heading line starts with ``heading`` (up to the next ``## ``
    heading), its heading made plain text for the README's results block; "" if absent."""
    lines = md.splitlines()
    i = next((k for k, line in enumerate(lines) if line.startswith(heading)), None)
    if i is None:
        return ""
    j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("## ")), len(lines))
    return "\n".join([lines[i].removeprefix("## ") + ":"] + lines[i + 1 : j]).strip()


def _fmt(v: object, nd: int = 3) -> str:
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def _selection_words(info: dict) -> str:
    """How the run picked its best epoch: retrieval, or (a head refit) the aux error."""
    if info.get("best_val_aux_mae") is not None:
        return (
            f"lowest validation aux-head error {_fmt(info['best_val_aux_mae'])} (mean absolute error in "
            f"standardized units over {info.get('val_pool')} validation crystals)"
        )
    return f"validation mean R@10 {_fmt(info.get('best_val_mean_r10'))} on a pool of {info.get('val_pool')}"


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


def property_table(res: dict) -> str:
    """Property language: inverse design (CLaC's protocol), formula-free retrieval,
    property-aware search and the aux head's test error, from results.json."""
    inv = res.get("inverse_design") or {}
    if not inv:
        return ""
    rows = ["| property | queries | k | CLaC MAE | lexical | text encoder only | random k | CLaC / random | CLaC Pearson r |",
            "|---|---|---|---|---|---|---|---|---|"]
    for prop, r in inv.items():
        if "template" not in r:
            continue
        for k in ("top10", "top50"):
            rand = r["random"][k]["MAE"]
            m = r["template"]["model"][k]
            cells = [_fmt(m["MAE"]), _fmt(r["template"]["lexical"][k]["MAE"]),
                     _fmt(r["template"]["text_encoder_only"][k]["MAE"]), _fmt(rand),
                     _fmt(m["MAE"] / rand, 2), _fmt(m["pearson_r"])]
            rows.append(f"| {prop} (n={r['n_crystals']}) | template: \"{r['template_text']}\" | {k[3:]} | " + " | ".join(cells) + " |")
            pm = r["phrasings_mean"]
            rows.append(f"| {prop} | {len(r['phrasings'])} other phrasings (mean) | {k[3:]} | {_fmt(pm['model'][k]['MAE'])} | "
                        f"{_fmt(pm['lexical'][k]['MAE'])} | {_fmt(pm['text_encoder_only'][k]['MAE'])} | {_fmt(rand)} | "
                        f"{_fmt(pm['model'][k]['MAE'] / rand, 2)} | |")
    lines = ["", "Bound and class queries (share of the top 10 that satisfies the query; random = share in the split):", "",
             "| query | CLaC | lexical | text encoder only | random |", "|---|---|---|---|---|"]
    for r in inv.values():
        for q, b in (r.get("bounds") or {}).items():
            lines.append(f"| {q} | {_fmt(b['model']['top10'])} | {_fmt(b['lexical']['top10'])} | "
                         f"{_fmt(b['text_encoder_only']['top10'])} | {_fmt(b['random'])} |")
    ff = res.get("formula_free")
    if ff:
        lines += ["", f"Formula-free retrieval ({', '.join(ff['views'])} views with formula, element symbols and names removed; "
                  f"{ff['n_texts_rewritten']} texts), R@10 and ratio to the strongest baseline:", "",
                  "| direction | pool | CLaC R@10 | random init | lexical | text encoder only | ratio (vs) |", "|---|---|---|---|---|---|---|"]
        for d in ("text_to_crystal", "crystal_to_text"):
            for pool, m in ff["model"][d].items():
                b = ff["baselines"]
                ratio = ff["ratios"][d][pool]
                lines.append(f"| {d.replace('_', ' ')} | {pool} ({m.get('pool_size')}) | {_fmt(m['R@10'])} | "
                             + " | ".join(_fmt(b[n][d][pool]["R@10"]) for n in ("random_init", "lexical", "text_encoder_only"))
                             + f" | {_fmt(ratio['R@10'], 2)} ({ratio['R@10_vs']}) |")
    pa = res.get("property_aware")
    if pa:
        ft = pa.get("free_text", {})
        ft2 = pa.get("free_text_dev2", {})
        lines += ["", "Search with the query's constraints (the app's property-aware mode). Both query sets are "
                  "**development sets**: the parser was grown while they were scored, so they measure fit to known "
                  "queries, not generalization (frozen since 2026-12-05; class words judged by the one class-word table).",
                  "", "The model's own numbers (model alone; and the query's constraints over the model's *predicted* "
                  "property values, as for an uploaded crystal nobody has computed):", "",
                  "| system | free-text P@10 (dev set 1) | P@10 (dev set 2) | band gap inverse design MAE, k=10 | k=50 |",
                  "|---|---|---|---|---|"]
        inv_bg = pa.get("inverse_design_band_gap", {})

        def _row(name: str) -> str:
            i = inv_bg.get(name, {})
            return (f"| {name} | {_fmt(ft[name]['P@10'])} | {_fmt(ft2.get(name, {}).get('P@10', '–'))} | "
                    f"{_fmt(i.get('top10', {}).get('MAE', '–'))} | {_fmt(i.get('top50', {}).get('MAE', '–'))} |")

        lines += [_row(n) for n in ("model_only", "model_predicted_values", "lexical") if n in ft]
        if "known_dft_lookup" in ft:
            lines += ["", "Search with known DFT values (**a lookup, not the model**: the re-rank reads the test "
                      "crystals' own DFT values, formulas and compositions and is judged on the same values; it is "
                      "what the app does on Materials Project crystals):", "",
                      "| system | free-text P@10 (dev set 1) | P@10 (dev set 2) | band gap inverse design MAE, k=10 | k=50 |",
                      "|---|---|---|---|---|", _row("known_dft_lookup")]
        fq = pa.get("formula_queries")
        if fq:
            lines += ["", f"A bare formula as the query ({fq['n_queries']} test-split formulas, e.g. \"ZnO\"): "
                      + "; ".join(f"{name} top-1 {_fmt(fq[name]['top1'])}, top-10 {_fmt(fq[name]['top10'])}"
                                  for name in ("model_only", "model_predicted_values", "lexical", "known_dft_lookup")
                                  if name in fq)
                      + " (known_dft_lookup and lexical read the formula itself: lookups)."]
        aux = pa.get("aux_head")
        if aux:
            lines += ["", "Aux-head predictions (shown in the app as *predicted* where no DFT value is known), test MAE: "
                      + "; ".join(f"{p} {_fmt(v['MAE'])} (predicting the mean: {_fmt(v['MAE_mean_predictor'])}, n={v['n']})"
                                  for p, v in aux.items())]
    return "\n".join(rows + lines)


def umap_png(checkpoint: Path, data: Path, out: Path, n: int = 1500, seed: int = 0) -> None:
    """UMAP of test-split crystals and their texts in the joint space, coloured by crystal system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import umap

    from clac_core.data import load_data_dir
    from clac_core.embed import embed_structures, embed_texts
    from clac_core.models import CLaCModel

    model = CLaCModel.from_checkpoint(checkpoint)
    d = load_data_dir(data)
    cry = d.crystals
    cry = cry[cry.split == "test"].sample(n=min(n, (cry.split == "test").sum()), random_state=seed)
    pairs = d.pairs
    pairs = pairs[pairs.crystal_id.isin(cry.crystal_id) & (pairs.view == "composition")].drop_duplicates("crystal_id")
    structures = d.structures(cry.index)  # crystals keeps a 0..C-1 index: labels are positions
    ce = embed_structures(model, structures, 256, desc="crystals")  # (N, D)
    te = embed_texts(model, pairs.text.tolist(), 128, desc="descriptions")  # (T, D)
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
    p.add_argument("--init-note", default="", help="said after the warm start's line (where its weights came from)")
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
    import yaml

    train_cfg = (yaml.safe_load(config) or {}).get("train", {})
    split_kind = train_cfg.get("split", "formula")
    stage1 = ""
    if train_cfg.get("init_from"):  # a warm-started run: name the run it started from
        prev = Path(train_cfg["init_from"]).parent
        if (prev / "train_info.json").is_file():
            pinfo = json.loads((prev / "train_info.json").read_text())
            stage1 = (
                f"\n- Started from `{train_cfg['init_from']}` (train.init_from), itself trained {pinfo.get('epochs')} epochs "
                f"in {(pinfo['seconds'] + pinfo.get('seconds_previous_parts', 0.0)) / 3600:.2f} h over "
                f"{pinfo.get('train_pairs')} training pairs (validation mean R@10 {_fmt(pinfo.get('best_val_mean_r10'))})."
            )
        else:
            stage1 = f"\n- Started from `{train_cfg['init_from']}` (train.init_from); no training record beside it."
        if a.init_note:
            stage1 += f" {a.init_note}"
    views = ", ".join((manifest.get("counts", {}).get("pairs_per_view") or {}).keys())
    split_words = {
        "chemsys": "grouped by chemical system (no element set in two splits; recomputed on load, so the per-split "
        "counts above, which are the stored formula split's, differ)",
        "formula": "grouped by reduced formula (no formula in two splits)",
    }[split_kind]
    held_out = {"chemsys": "chemical systems", "formula": "formulas"}[split_kind]
    table = headline_table(res)
    ptable = property_table(res)
    from clac_core.evaluation.inverse_design import plot_inverse_design

    inv_png = plot_inverse_design(res, a.eval.with_name("inverse_design.png"))
    card = f"""# Model card: CLaC default model (`assets/model/`)

Contrastive Language–Crystals model trained by this project's own pipeline. Every number below
is read from files the pipeline wrote (`{a.run}/train_info.json`, `metrics.csv`,
`{a.eval}`); regenerate this card with `scripts/model_card.py`.

## Data
- Built with: `{a.data_command}`
- {json.dumps(manifest.get("counts", {}))}
- Sources: prototypes (pymatgen AFLOW library, with robocrys mineral names), Materials Project
  `mp_37k` (formation energy, band gap, Fermi energy, magnetization), `perov_5`, `carbon_24`
  (read from `../shared/data`). Views per crystal: {views} (`clac_core.text`).
- Data credit: Materials Project (Jain et al., APL Materials 1, 011002 (2013); CC BY 4.0), through
  the MEGNet benchmark release (Chen et al., Chem. Mater. 31, 3564 (2019)); Perov-5 (Castelli et
  al. 2012) and Carbon-24 (Pickard 2020) through the CDVAE benchmark release (Xie et al. 2021).
  The app's default index ships the `mp_37k` crystals with their DFT properties.
- Splits: train / val / test {split_words}, seed 0.

## Training
- Command: `{a.train_command}`
- Hardware: {info.get("hardware")}; wall time {hours:.2f} h; {info.get("steps")} steps,
  {info.get("epochs")} epochs over {info.get("train_crystals")} training crystals
  ({info.get("train_pairs")} training pairs, sampling: {info.get("sampling")}).{stage1}
- Best epoch {info.get("best_epoch")} ({_selection_words(info)});
  its validation row: {json.dumps(best)}
- Config:

```yaml
{config.strip()}
```

## Evaluation on the test split ({held_out} never seen in training)
Command: `{a.eval_command}`

{table}

### Property language (inverse design, formula-free retrieval, property-aware search)

{ptable}

{"![Inverse design: target vs retrieved top-10 mean](eval/inverse_design.png)" if inv_png else ""}

Full report from `clac eval` (`assets/eval/results.md`):

{res_md}
"""
    if a.notes and a.notes.is_file():
        card += f"\n## Notes (hand-written, `{a.notes.relative_to(REPO) if a.notes.is_relative_to(REPO) else a.notes}`)\n\n"
        card += a.notes.read_text(encoding="utf-8").strip() + "\n"
    a.out.write_text(card, encoding="utf-8")
    readme = a.readme.read_text()
    block = (f"{START}\nTest split, generated by `{a.eval_command}` (see `assets/MODEL_CARD.md`):\n\n{table}\n\n"
             f"Property language:\n\n{ptable}\n\n"
             + (f"{mcq}\n\n" if (mcq := _section(res_md, "## Multiple-choice questions")) else "")
             + ("![Inverse design: target vs retrieved top-10 mean](assets/eval/inverse_design.png)\n\n" if inv_png else "")
             + f"![UMAP of the joint space](assets/umap_test.png)\n{END}")
    if START in readme:
        readme = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, readme, flags=re.S)
    else:
        readme += "\n## Results\n\n" + block + "\n"
    a.readme.write_text(readme)
    print(f"wrote {a.out}, updated {a.readme}" + ("" if a.no_figure else f", {a.figure}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
