"""Corpus indexes: index an uploaded CSV (community layout) or a CIF folder with the loaded model."""

from __future__ import annotations

import html
import tempfile
from pathlib import Path

import streamlit as st

from app_pages._shared import INDEX_KEY, get_explorer
from clac_core.inference import build_user_index, list_indexes, user_index_root

st.title("Corpus indexes")
ex = get_explorer()
st.markdown(
    "Build a searchable index of **your** crystals with the loaded model. CSV files in the community "
    "layout (a `cif` column plus optional `material_id`, `band_gap`, `formation_energy_per_atom`, …, as in "
    "mp_20 / perov_5 / mp_37k) or a folder of CIF files on this machine."
)
st.caption(f"Indexes are saved under `{html.escape(str(user_index_root()))}` and appear in the sidebar.")

name = st.text_input("Index name", value="my_corpus", key="corpus_name")
mode = st.radio("Source", ["Upload a CSV", "Folder of CIF files"], horizontal=True, key="corpus_mode")
csv = folder = None
if mode == "Upload a CSV":
    csv = st.file_uploader("CSV file", type=["csv", "gz"], key="corpus_csv")
else:
    folder = st.text_input("Folder path", key="corpus_folder")
maxd = st.number_input("Max descriptions in the bank", 0, 100_000, 2000, step=500, key="corpus_maxd")

if st.button("Build index", type="primary", key="corpus_build"):
    bar = st.progress(0.0, text="starting")

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{stage}: {done}/{total}")

    try:
        with tempfile.TemporaryDirectory() as tmp:
            if csv is not None:
                p = Path(tmp) / ("upload.csv.gz" if csv.name.endswith(".gz") else "upload.csv")
                p.write_bytes(csv.getvalue())
                spec = f"csv:{p}"
            elif folder:
                if not Path(folder).is_dir():
                    raise ValueError(f"{folder} is not a folder")
                spec = f"cifs:{folder}"
            else:
                raise ValueError("choose a CSV file or a folder first")
            out = build_user_index(ex, name=name, spec=spec, max_descriptions=int(maxd), progress=progress)
        bar.progress(1.0, text="done")
        st.session_state[INDEX_KEY] = str(out)
        st.session_state.pop("sidebar_index", None)
        st.success(f"Index saved to {html.escape(str(out))}; it is now selected in the sidebar.")
    except Exception as exc:
        st.error(f"Could not build the index: {html.escape(str(exc))}")

st.subheader("Available indexes")
for label, path in list_indexes().items():
    st.markdown(f"- **{html.escape(label)}** — `{html.escape(str(path))}`")
