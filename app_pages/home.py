"""Home: what is loaded (checkpoint, training data, metrics, corpus), and a page guide.

Reads the checkpoint's config.json and the index's manifest.json only: no torch, no model
(tests/test_app.py checks), so the first page is up in a few seconds.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.ui.display import md_escape
from app_pages.ui.loaders import get_info
from clac_core.inference import eval_summary

st.title("CLaC Explorer")
st.markdown(
    "Crystal structures and English text in **one embedding space** "
    "(Contrastive Language–Crystals, Park et al. 2025): a crystal graph encoder (CGCNN) and a "
    "BERT-type text encoder trained CLIP-style on synthesized crystal–text pairs."
)
info = get_info()
extra = info["extra"]
if info["untrained"]:
    st.error(
        "**UNTRAINED model.** The loaded checkpoint has random weights (a placeholder for the "
        "app's plumbing). Rankings, labels and the map carry no meaning until a trained model is installed.",
        icon=":material/warning:",
    )

c1, c2, c3, c4 = st.columns(4)
c1.metric("Corpus crystals", f"{info['crystals']:,}")
c2.metric("Description bank", f"{info['descriptions']:,}")
c3.metric("Embedding dims", info["embed_dim"])
c4.metric("Checkpoint", info["checkpoint_hash"])

left, right = st.columns(2)
with left:
    st.subheader("Model")
    rows = {"checkpoint": info["checkpoint"], "hash": info["checkpoint_hash"]}
    for k, v in extra.items():
        if not isinstance(v, dict | list):
            rows[k] = v
    st.dataframe(pd.DataFrame({"field": list(rows), "value": [str(v) for v in rows.values()]}), hide_index=True)
    for k, v in extra.items():
        if isinstance(v, dict | list):
            with st.expander(f"{k}"):
                st.json(v)
with right:
    st.subheader("Corpus index")
    by = pd.DataFrame({"source": list(info["by_source"]), "crystals": list(info["by_source"].values())})
    st.dataframe(by, hide_index=True)
    man = info["index"]
    st.caption(
        f"Index {md_escape(info['index_dir'])} · built {md_escape(man.get('created', '?'))} · "
        f"sources: {md_escape(', '.join(map(str, man.get('sources', []))), 300)}"
    )

st.subheader("Evaluation")
if info["eval_results"] is not None:
    res = info["eval_results"]
    summary = eval_summary(res)
    h = summary["headline"]
    st.caption(
        f"`clac eval` on the test split (reduced formulas never seen in training), pool of "
        f"{h['pool_size'] or '?'} crystals; read from `assets/eval/results.json`."
    )
    m1, m2, m3, m4 = st.columns(4)
    fmt = lambda v, suffix="": "–" if v is None else f"{v:.3f}{suffix}"  # noqa: E731
    m1.metric("text → crystal R@10", fmt(h["text_to_crystal_R@10"]))
    m2.metric("crystal → text R@10", fmt(h["crystal_to_text_R@10"]))
    m3.metric("zero-shot crystal system", fmt(h["zero_shot_crystal_system_accuracy"]))
    m4.metric("vs best baseline (t→c R@10)", fmt(h["text_to_crystal_R@10_vs_best_baseline"], "×"))
    st.dataframe(pd.DataFrame(summary["comparison"]), hide_index=True)
    inv_rows = summary["inverse_design"]
    if inv_rows:
        st.markdown(
            "**Property language: inverse design by text** (CLaC's protocol: the query *\"material with "
            "bandgap around {v} eV\"* ranks the test crystals; mean property of the top 10 against v)"
        )
        st.dataframe(pd.DataFrame(inv_rows), hide_index=True)
        if info.get("inverse_design_png"):
            st.image(info["inverse_design_png"], caption="Target vs retrieved mean of the top 10 (y = x: perfect)")
    with st.expander("Full results.json"):
        st.json(res, expanded=False)
else:
    st.caption("No evaluation results shipped (assets/eval/results.json not present).")
if info["model_card"]:
    with st.expander("Model card", expanded=False):
        st.markdown(info["model_card"])

st.subheader("Pages")
st.markdown(
    """
- **Search by text** – type what you want (*"a cubic oxide with a band gap around 3 eV, no Pb"*):
  property-aware search reads the constraints and says what it understood; filter by elements,
  crystal system, band gap, formation energy, magnetism, size and source; pick a row to see it in
  3D; download CSV.
- **Upload crystals** – drop CIF / POSCAR / extxyz files: nearest descriptions, nearest corpus
  crystals, zero-shot labels and a generated description for each.
- **3D viewer** – any corpus or uploaded crystal: unit cell, supercells, styles, lattice and sites, CIF.
- **Embedding map** – 2D map of crystals and texts; project your query or crystal into it.
- **Corpus indexes** – index your own CSV or CIF folder with the loaded model.
"""
)
if any("mp_37k" in str(k) or "materials project" in str(k).lower() for k in info["by_source"]):
    st.caption(
        "Crystal data: the Materials Project (CC BY 4.0; A. Jain et al., APL Materials 1, 011002, 2013), "
        "through the MEGNet benchmark release (mp_37k)."
    )
st.caption("Source: Park et al. 2025, *Contrastive Learning of English Language and Crystal Graphs for "
           "Multimodal Representation of Materials Knowledge*. Docs: `docs/ARCHITECTURE.md`.")
