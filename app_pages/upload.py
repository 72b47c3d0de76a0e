"""Upload crystals: per file (or pasted text), nearest corpus crystals with their properties,
nearest descriptions, zero-shot labels and a generated description.

Every file is read and analysed on its own: a failure shows its error beside that file and
never hides another file's results (issue 13). Files, pasted text and what was computed for
them are kept in the session (``ui.handoff``): they are still here after a visit to another
page, and files dropped on Home arrive here (issue 19).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app_pages.ui.display import md_escape, plain
from app_pages.ui.handoff import (
    StoredUpload,
    forget_upload,
    keep_paste,
    keep_widget_files,
    open_in_viewer,
    remember,
    restore,
    stored_uploads,
)
from app_pages.ui.loaders import get_explorer
from app_pages.ui.results import display_table, show_results
from clac_core.inference import Explorer, index_stamp, read_upload, reader_limits, upload_limit_mb

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
was_drawn = "upload_files" in st.session_state  # False on a new visit: the widget starts empty
files = c_up.file_uploader(
    "Drop crystal files here", accept_multiple_files=True, key="upload_files", max_upload_size=limit_mb,
    help=f"Any name: the format is taken from the extension or the content. {limit_mb} MB per file.",
)
keep_widget_files("upload_files", files or [], was_drawn=was_drawn)
restore("upload_paste", "")
pasted = c_paste.text_area(
    "…or paste a CIF or POSCAR", key="upload_paste", height=150,
    placeholder="data_NaCl\n_cell_length_a 5.64\n…   (press Ctrl+Enter to read)",
)
remember("upload_paste", pasted)
keep_paste(pasted, PASTE_NAME)
store = stored_uploads()
if not store:
    st.info("No file yet. Try a CIF from the Materials Project or any POSCAR.")
    st.stop()


def _remove(fid: str) -> None:
    forget_upload(fid)
    if fid.startswith("paste:"):  # a callback may set a drawn widget's value
        st.session_state["upload_paste"] = ""
        remember("upload_paste", "")


def analyse(ex: Explorer, s: Any) -> dict[str, Any]:
    """Everything shown about one structure (raises on failure; text generation failing is kept
    as a note instead, it must not hide the rest)."""
    sym = ex.symmetry(s)
    out: dict[str, Any] = {
        "label": (f"{s.composition.reduced_formula} · {sym['spacegroup_symbol']} ({sym['spacegroup_number']}) · "
                  f"{sym['crystal_system']} · {len(s)} sites"),
        "nearest": display_table(ex, ex.nearest_crystals(s, 8)),
        "descriptions": ex.nearest_descriptions(s, 5),
        "predicted": ex.predict_properties(s),
        "zero_shot": ex.zero_shot(s),
        "generated": [],
        "generated_error": None,
    }
    try:
        out["generated"] = [(d.view, d.text) for d in ex.describe(s)]
    except Exception as exc:
        out["generated_error"] = str(exc)
    return out


def show_one(a: dict[str, Any], fi: int, si: int) -> None:
    """Draw what :func:`analyse` found for structure ``si`` of file ``fi``."""
    st.markdown(f"**{md_escape(a['label'])}**")
    st.markdown("Nearest corpus crystals (properties from the corpus; — = not known)")
    show_results(a["nearest"], key=f"upload_nc_{fi}_{si}")
    c1, c2 = st.columns([3, 2])
    with c1:
        st.markdown("Nearest descriptions")
        nd = a["descriptions"]
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
        if a["generated_error"] is not None:
            st.warning(f"No description: {md_escape(a['generated_error'])}")
        for view, text in a["generated"]:
            st.markdown(f"*{md_escape(view)}*: {md_escape(text)}")
    with c2:
        if len(a["predicted"]):
            st.markdown("Properties: computed from the structure where it fixes the value, else the model's "
                        "estimate (not DFT) with its test error (MAE on the model card's test split)")
            st.dataframe(a["predicted"], hide_index=True, key=f"upload_pred_{fi}_{si}")
        st.markdown("Zero-shot labels (prompt softmax)")
        for task, df in a["zero_shot"].items():
            st.caption(md_escape(task))
            st.dataframe(
                df, hide_index=True, key=f"upload_zs_{fi}_{si}_{task}",
                column_config={"score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0,
                                                                        format="%.2f")},
            )


def show_file(entry: StoredUpload, fi: int, fid: str, index_key: str) -> None:
    if entry.result is None:
        entry.result = read_upload(entry.data, entry.name)  # never raises: errors become result.error
        entry.data = b""  # the structures are kept; the bytes are not needed again
    res = entry.result
    name = md_escape(res.filename, 120)
    st.divider()
    c_name, c_remove = st.columns([6, 1], vertical_alignment="center")
    c_remove.button("Remove", key=f"upload_remove_{fid}", on_click=_remove, args=(fid,), width="stretch")
    if not res.ok:
        c_name.error(f"**{name}**: {md_escape(res.error or 'unknown error')}")
        return
    c_name.subheader(name)
    if len(res.structures) > MAX_STRUCTURES_PER_FILE:
        st.caption(f"{len(res.structures)} structures in the file; showing the first {MAX_STRUCTURES_PER_FILE}.")
    for si, s in enumerate(res.structures[:MAX_STRUCTURES_PER_FILE]):
        with st.container(border=True):
            try:
                if (index_key, si) not in entry.analyses:  # computed once per index, redrawn after
                    entry.analyses[(index_key, si)] = analyse(ex, s)
                show_one(entry.analyses[(index_key, si)], fi, si)
            except Exception as exc:  # one structure's failure must not hide the next file
                st.error(f"**{name}** (structure {si + 1}): could not analyse it: {md_escape(exc)}")
                continue
            if st.button("Open in 3D viewer", key=f"upload_view_{fi}_{si}"):
                open_in_viewer(plain(f"{res.filename} #{si + 1}", 120), s)


index_key = f"{ex.index_dir}|{index_stamp(ex.index_dir)}"
for fi, (fid, entry) in enumerate(list(store.items())):
    show_file(entry, fi, fid, index_key)
