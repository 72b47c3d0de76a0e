"""Upload crystals: per file (or pasted text), first the upload's own description (computed
facts, then its values, each model estimate marked with its test error, beside the DFT values of
a corpus crystal with the same formula and space group), zero-shot labels, then the nearest
corpus crystals and descriptions (each labelled with the corpus crystal it is about), "Find
similar structures", and the uploads' embeddings as parquet.

Every file is read and analysed on its own: a failure shows its error beside that file and
never hides another file's results (issue 13). Files, pasted text and what was computed for
them are kept in the session (``ui.handoff``): they are still here after a visit to another
page, and files dropped on Home arrive here (issue 19).
"""

from __future__ import annotations

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
from app_pages.ui.loaders import get_explorer, warm_structure_path
from app_pages.ui.results import display_table, show_results, similar_panel
from clac_core.inference import (
    UploadPanel,
    analyse_upload,
    embeddings_parquet,
    index_stamp,
    read_upload,
    reader_limits,
    upload_limit_mb,
)

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
    # the first file's imports load while the user picks it (not when files are already here:
    # their own analysis pays for them, without a second one beside it)
    warm_structure_path(ex)
    st.stop()


def _remove(fid: str) -> None:
    forget_upload(fid)
    if fid.startswith("paste:"):  # a callback may set a drawn widget's value
        st.session_state["upload_paste"] = ""
        remember("upload_paste", "")


def _table(df: pd.DataFrame) -> None:
    """st.table of text columns (it wraps long text; a dataframe cell cuts it). Its cells are
    Markdown: every cell is escaped."""
    st.table(df.astype(str).map(md_escape), hide_index=True)


def show_one(a: UploadPanel, fi: int, si: int) -> None:
    """Draw what :func:`analyse_upload` found for structure ``si`` of file ``fi``."""
    st.markdown(f"**{md_escape(a.label)}**")
    c1, c2 = st.columns([3, 2])
    with c1:
        st.markdown("**This upload**: described from its own structure; every value says where it comes from")
        if a.own_error is not None:
            st.warning(f"No description from its facts: {md_escape(a.own_error)}")
        for view, text in a.own:
            st.markdown(f"*{md_escape(view)}*: {md_escape(text)}")
        if len(a.properties):
            st.caption("Values: computed from the structure where it fixes them, else the model's estimate "
                       "(not DFT) with its test error (MAE on the model card's test split).")
            if a.match is not None:
                more = f" ({a.match.others} more corpus crystals match; the nearest is shown)" if a.match.others else ""
                st.caption(md_escape(
                    f"Corpus crystal {a.match.crystal_id} has the same reduced formula and space group: "
                    f"its DFT values are beside the upload's{more}."))
            st.dataframe(a.properties, hide_index=True, key=f"upload_pred_{fi}_{si}", placeholder="—")
    with c2:
        st.markdown("**Zero-shot labels**: prompt-softmax scores")
        st.caption("A softmax over the model's similarity to each class's prompts (sums to 1 per task); "
                   "a ranking of the prompts, not a calibrated probability.")
        for task, df in a.zero_shot.items():
            st.caption(md_escape(task))
            st.dataframe(
                df.rename(columns={"score": "prompt-softmax score"}), hide_index=True,
                key=f"upload_zs_{fi}_{si}_{task}",
                column_config={"prompt-softmax score": st.column_config.ProgressColumn(
                    "prompt-softmax score", min_value=0.0, max_value=1.0, format="%.2f")},
            )
    st.markdown("**Nearest corpus crystals**: other crystals; their properties are theirs (— = not known)")
    show_results(display_table(ex, a.nearest), key=f"upload_nc_{fi}_{si}")
    st.markdown("**Nearest corpus descriptions**: each is about the corpus crystal it names, not about your upload")
    nd = a.descriptions.assign(similarity=[f"{v:.3f}" for v in a.descriptions["similarity"]])
    _table(nd)


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
                    entry.analyses[(index_key, si)] = analyse_upload(ex, s)
                panel = entry.analyses[(index_key, si)]
                show_one(panel, fi, si)
            except Exception as exc:  # one structure's failure must not hide the next file
                st.error(f"**{name}** (structure {si + 1}): could not analyse it: {md_escape(exc)}")
                continue
            exported.append({"file": res.filename, "structure": si + 1, "formula": panel.formula,
                             "spacegroup": panel.spacegroup, "embedding": panel.embedding})
            if st.button("Open in 3D viewer", key=f"upload_view_{fi}_{si}"):
                open_in_viewer(plain(f"{res.filename} #{si + 1}", 120), s)
            similar_panel(ex, panel.embedding, key=f"upload_similar_{fi}_{si}", title=f"{res.filename} #{si + 1}")


index_key = f"{ex.index_dir}|{index_stamp(ex.index_dir)}"
export = st.container()  # filled once every structure is analysed
exported: list[dict] = []
for fi, (fid, entry) in enumerate(list(store.items())):
    show_file(entry, fi, fid, index_key)
if exported:
    export.download_button(
        f"Download the embeddings of {len(exported)} uploaded structure(s) (parquet)",
        embeddings_parquet(exported, checkpoint_hash=ex.checkpoint_hash), file_name="clac_upload_embeddings.parquet",
        mime="application/vnd.apache.parquet", key="upload_parquet",
        help="One row per structure: file, structure number, formula, space group, the crystal embedding "
        "(a list of floats) and the model's checkpoint hash (embeddings of two models do not compare).",
    )
