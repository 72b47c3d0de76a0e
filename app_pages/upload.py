"""Upload crystals: per file, nearest descriptions/crystals, zero-shot labels, a description."""

from __future__ import annotations

import html

import streamlit as st

from app_pages._shared import display_table, get_explorer
from clac_core.inference import read_upload, reader_limits

MAX_STRUCTURES_PER_FILE = 5

st.title("Upload crystals")
ex = get_explorer()
lim = reader_limits()
st.caption(
    f"CIF, POSCAR/CONTCAR or extxyz · up to {lim['max_sites']:,} sites per structure and "
    f"{lim['max_bytes'] / 1e6:.1f} MB per file · files stay in this browser session only."
)
files = st.file_uploader(
    "Drop crystal files here", accept_multiple_files=True, key="upload_files",
    type=["cif", "vasp", "poscar", "contcar", "xyz", "extxyz"],
)
# Uploads live in this session's state only: other sessions never see them.
store: dict[str, object] = st.session_state.setdefault("upload_results", {})
for f in files or []:
    fid = f"{f.name}:{f.size}:{getattr(f, 'file_id', '')}"
    if fid not in store:
        store[fid] = read_upload(f.getvalue(), f.name)
current = [f"{f.name}:{f.size}:{getattr(f, 'file_id', '')}" for f in files or []]
for fid in list(store):
    if fid not in current:
        del store[fid]

if not current:
    st.info("No file yet. Try a CIF from the Materials Project or any POSCAR.")
    st.stop()

for fi, fid in enumerate(current):
    res = store[fid]
    name = html.escape(res.filename)
    st.divider()
    if not res.ok:
        st.error(f"**{name}**: {html.escape(res.error or 'unknown error')}")
        continue
    structs = res.structures[:MAX_STRUCTURES_PER_FILE]
    st.subheader(f"{name}")
    if len(res.structures) > MAX_STRUCTURES_PER_FILE:
        st.caption(f"{len(res.structures)} structures in the file; showing the first {MAX_STRUCTURES_PER_FILE}.")
    for si, s in enumerate(structs):
        sym = ex.symmetry(s)
        label = f"{s.composition.reduced_formula} · {sym['spacegroup_symbol']} ({sym['spacegroup_number']}) · {sym['crystal_system']} · {len(s)} sites"
        with st.container(border=True):
            st.markdown(f"**{html.escape(label)}**")
            c1, c2 = st.columns([3, 2])
            with c1:
                st.markdown("Nearest corpus crystals")
                st.dataframe(display_table(ex, ex.nearest_crystals(s, 8)), hide_index=True, key=f"upload_nc_{fi}_{si}")
                st.markdown("Nearest descriptions")
                nd = ex.nearest_descriptions(s, 5)
                st.dataframe(nd[["similarity", "view", "text"]].round(3), hide_index=True, key=f"upload_nd_{fi}_{si}")
            with c2:
                st.markdown("Zero-shot labels (prompt softmax)")
                for task, df in ex.zero_shot(s).items():
                    st.caption(task)
                    st.dataframe(
                        df, hide_index=True, key=f"upload_zs_{fi}_{si}_{task}",
                        column_config={"score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.2f")},
                    )
                st.markdown("Our generated description")
                try:
                    for d in ex.describe(s):
                        st.markdown(f"*{html.escape(d.view)}*: {html.escape(d.text)}")
                except Exception as exc:  # text generation failing must not hide the rest
                    st.warning(f"No description: {html.escape(str(exc))}")
            if st.button("Open in 3D viewer", key=f"upload_view_{fi}_{si}"):
                st.session_state["viewer_structure"] = (f"{res.filename} #{si}", s)
                st.switch_page("app_pages/viewer.py")
