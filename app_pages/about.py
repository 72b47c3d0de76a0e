"""About the model: what is loaded (checkpoint, training data, metrics, corpus index), the
``clac eval`` results and the model card.

Reads the checkpoint's config.json, the index's manifest.json and the shipped eval files only:
no torch, no model. Paths of the machine that built the assets are never shown (issue 19):
every value passes through ``hide_paths``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from app_pages.ui.display import corpus_credit, hide_paths, md_escape, split_images
from app_pages.ui.loaders import get_info
from clac_core.inference import eval_summary


def model_section(info: dict[str, Any]) -> None:
    st.subheader("Model")
    extra = hide_paths(info["extra"])
    rows = {"checkpoint": Path(info["checkpoint"]).name, "hash": info["checkpoint_hash"]}
    rows.update({k: v for k, v in extra.items() if not isinstance(v, dict | list)})
    st.dataframe(pd.DataFrame({"field": list(rows), "value": [str(v) for v in rows.values()]}), hide_index=True,
                 key="about_model")
    for k, v in extra.items():
        if isinstance(v, dict | list):
            with st.expander(md_escape(k)):
                st.json(v)


def corpus_section(info: dict[str, Any]) -> None:
    st.subheader("Corpus index")
    by = pd.DataFrame({"source": list(info["by_source"]), "crystals": list(info["by_source"].values())})
    st.dataframe(by, hide_index=True, key="about_corpus")
    st.caption(f"Index “{md_escape(Path(info['index_dir']).name)}” · built "
               f"{md_escape(info['index'].get('created', '?'))}")
    if credit := corpus_credit(info["by_source"]):
        st.caption(credit)


def _fmt(v: float | None, suffix: str = "") -> str:
    return "–" if v is None else f"{v:.3f}{suffix}"


def eval_section(info: dict[str, Any]) -> None:
    st.subheader("Evaluation")
    res = info["eval_results"]
    if res is None:
        st.caption("No evaluation results shipped (assets/eval/results.json not present).")
        return
    summary = eval_summary(res)
    h = summary["headline"]
    st.caption(
        f"`clac eval` on the test split (reduced formulas never seen in training), pool of "
        f"{h['pool_size'] or '?'} crystals; read from `assets/eval/results.json`."
    )
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("text → crystal R@10", _fmt(h["text_to_crystal_R@10"]))
    m2.metric("crystal → text R@10", _fmt(h["crystal_to_text_R@10"]))
    m3.metric("zero-shot crystal system", _fmt(h["zero_shot_crystal_system_accuracy"]))
    m4.metric("vs best baseline (t→c R@10)", _fmt(h["text_to_crystal_R@10_vs_best_baseline"], "×"))
    st.dataframe(pd.DataFrame(summary["comparison"]), hide_index=True, key="about_comparison")
    if summary["inverse_design"]:
        st.markdown(
            "**Property language: inverse design by text** (CLaC's protocol: the query *\"material with "
            "bandgap around {v} eV\"* ranks the test crystals; mean property of the top 10 against v)"
        )
        st.dataframe(pd.DataFrame(summary["inverse_design"]), hide_index=True, key="about_inverse")
        if info.get("inverse_design_png"):  # only a file that exists (docs_info checks)
            st.image(info["inverse_design_png"], caption="Target vs retrieved mean of the top 10 (y = x: perfect)")
    with st.expander("Full results.json"):
        st.json(hide_paths(res), expanded=False)


def model_card(info: dict[str, Any]) -> None:
    """The model card's Markdown; its figures drawn from the shipped files, or named if absent."""
    if not info["model_card"]:
        return
    figures = {Path(p).name: p for p in [info.get("inverse_design_png")] if p}
    with st.expander("Model card", expanded=False):
        for part in split_images(hide_paths(info["model_card"])):
            if isinstance(part, str):
                st.markdown(part)
            elif (path := figures.get(Path(part[1]).name)) is not None:
                st.image(path, caption=part[0] or None)
            else:
                st.caption(f"(Figure not shipped: {md_escape(part[0] or Path(part[1]).name)})")


st.title("About the model")
st.markdown(
    "Contrastive Language–Crystals (CLaC, Park et al. 2025): a crystal graph encoder (CGCNN) and a "
    "BERT-type text encoder trained CLIP-style on synthesized crystal–text pairs, so that a crystal and "
    "a sentence about it land close together in **one embedding space**."
)
info = get_info()
if info["untrained"]:
    st.error("**UNTRAINED model.** The loaded checkpoint has random weights: rankings, labels and the map "
             "carry no meaning until a trained model is installed.", icon=":material/warning:")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Corpus crystals", f"{info['crystals']:,}")
c2.metric("Description bank", f"{info['descriptions']:,}")
c3.metric("Embedding dims", info["embed_dim"])
c4.metric("Checkpoint", info["checkpoint_hash"])
left, right = st.columns(2)
with left:
    model_section(info)
with right:
    corpus_section(info)
eval_section(info)
model_card(info)
st.caption("Source: Park et al. 2025, *Contrastive Learning of English Language and Crystal Graphs for "
           "Multimodal Representation of Materials Knowledge*. Docs: `docs/ARCHITECTURE.md`.")
