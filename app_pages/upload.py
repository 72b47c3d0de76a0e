"""Upload crystals: per file (or pasted text), nearest corpus crystals with their properties,
nearest descriptions, zero-shot labels and a generated description.

Every file is read and analysed on its own: a failure shows its error beside that file and
never hides another file's results (issue 13).
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from app_pages.ui.display import md_escape, plain
from app_pages.ui.loaders import get_explorer
from app_pages.ui.results import display_table, show_results
from clac_core.inference import UploadResult, read_upload, reader_limits, upload_limit_mb

MAX_STRUCTURES_PER_FILE = 5
PASTE_NAME = "pasted structure"

st.title("Upload crystals")
ex = get_explorer()
lim = reader_limits()
limit_mb = upload_limit_mb()
st.caption(
    f"CIF, POSCAR/CONTCAR, extended XYZ or pymatgen JSON (optionally .gz) · up to {lim['max_sites']:,} "
    f"sites per structure and {limit_mb} MB per file · files stay in this browser session only."
)
c_up, c_paste = st.columns(2)
files = c_up.file_uploader(
    "Drop crystal files here", accept_multiple_files=True, key="upload_files", max_upload_size=limit_mb,
    help=f"Any name: the format is taken from the extension or the content. {limit_mb} MB per file.",
)
pasted = c_paste.text_area(
    "…or paste a CIF or POSCAR", key="upload_paste", height=150,
    placeholder="data_NaCl\n_cell_length_a 5.64\n…   (press Ctrl+Enter to read)",
)
# Uploads live in this session's state only: other sessions never see them.
store: dict[str, UploadResult] = st.session_state.setdefault("upload_results", {})
inputs: list[tuple[str, str, bytes]] = [
    (f"{f.name}:{f.size}:{getattr(f, 'file_id', '')}", f.name, f.getvalue()) for f in files or []
]
if pasted and pasted.strip():
    raw = pasted.encode("utf-8")
    inputs.append(("paste:" + hashlib.sha256(raw).hexdigest(), PASTE_NAME, raw))
for fid, name, data in inputs:
    if fid not in store:
        store[fid] = read_upload(data, name)  # never raises: errors become res.error
current = [fid for fid, _, _ in inputs]
for fid in list(store):
    if fid not in current:
        del store[fid]

if not current:
    st.info("No file yet. Try a CIF from the Materials Project or any POSCAR.")
    st.stop()


def show_one(fi: int, si: int, s) -> None:
    """Everything about one structure; raises on failure (the caller shows it beside the file)."""
    sym = ex.symmetry(s)
    label = (f"{s.composition.reduced_formula} · {sym['spacegroup_symbol']} ({sym['spacegroup_number']}) · "
             f"{sym['crystal_system']} · {len(s)} sites")
    st.markdown(f"**{md_escape(label)}**")
    st.markdown("Nearest corpus crystals (properties from the corpus; — = not known)")
    show_results(display_table(ex, ex.nearest_crystals(s, 8)), key=f"upload_nc_{fi}_{si}")
    c1, c2 = st.columns([3, 2])
    with c1:
        st.markdown("Nearest descriptions")
        nd = ex.nearest_descriptions(s, 5)
        # st.table wraps long text (a dataframe cell cuts it); its cells are Markdown: escape
        st.table(
            pd.DataFrame({
                "similarity": [f"{v:.3f}" for v in nd["similarity"]],
                "view": [md_escape(v) for v in nd["view"]],
                "text": [md_escape(t) for t in nd["text"]],
            }),
            hide_index=True,
        )
        st.markdown("Our generated description")
        try:
            for d in ex.describe(s):
                st.markdown(f"*{md_escape(d.view)}*: {md_escape(d.text)}")
        except Exception as exc:  # text generation failing must not hide the rest
            st.warning(f"No description: {md_escape(exc)}")
    with c2:
        pred = ex.predict_properties(s)
        if len(pred):
            st.markdown("Predicted properties (the model's estimates, not DFT; test error in the model card)")
            st.dataframe(pred, hide_index=True, key=f"upload_pred_{fi}_{si}")
        st.markdown("Zero-shot labels (prompt softmax)")
        for task, df in ex.zero_shot(s).items():
            st.caption(md_escape(task))
            st.dataframe(
                df, hide_index=True, key=f"upload_zs_{fi}_{si}_{task}",
                column_config={"score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0,
                                                                        format="%.2f")},
            )


for fi, fid in enumerate(current):
    res = store[fid]
    name = md_escape(res.filename, 120)
    st.divider()
    if not res.ok:
        st.error(f"**{name}**: {md_escape(res.error or 'unknown error')}")
        continue
    st.subheader(name)
    structs = res.structures[:MAX_STRUCTURES_PER_FILE]
    if len(res.structures) > MAX_STRUCTURES_PER_FILE:
        st.caption(f"{len(res.structures)} structures in the file; showing the first {MAX_STRUCTURES_PER_FILE}.")
    for si, s in enumerate(structs):
        with st.container(border=True):
            try:
                show_one(fi, si, s)
            except Exception as exc:  # one structure's failure must not hide the next file
                st.error(f"**{name}** (structure {si + 1}): could not analyse it: {md_escape(exc)}")
                continue
            if st.button("Open in 3D viewer", key=f"upload_view_{fi}_{si}"):
                st.session_state["viewer_structure"] = (plain(f"{res.filename} #{si + 1}", 120), s)
                st.session_state.pop("viewer_pick", None)
                st.switch_page("app_pages/viewer.py")
