"""Corpus indexes: index an uploaded CSV (community layout) or a CIF folder under the corpus
root with the loaded model.

Indexes are private to the browser session that builds them unless the user shares them; a
name already taken gets a suffix, so no one's index is overwritten. Folders are read only
under ``CLAC_CORPUS_ROOT`` (off unless set), with one error for every unusable path. A source
with bad rows or files shows the first ones and why, on the page (issue 19, part 5).

A build runs in the page's script run: leaving the page stops it and saves nothing. The page
says so before and during a build, rather than letting a build finish in the background where
nobody sees its errors. The settings are one form: nothing is sent until "Build index".
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import streamlit as st

from app_pages.ui.display import md_escape, plain
from app_pages.ui.loaders import get_explorer, warm_structure_path
from app_pages.ui.session import select_index, session_indexes, session_token
from clac_core.inference import (
    CorpusFolderError,
    CorpusSourceError,
    build_user_index,
    corpus_root,
    resolve_corpus_folder,
    session_index_root,
    share_index,
)

st.title("Corpus indexes")
ex = get_explorer()
warm_structure_path(ex)  # a build's first crystal pays the imports otherwise
st.markdown(
    "Build a searchable index of **your** crystals with the loaded model: a CSV file in the community "
    "layout (a `cif` column plus optional `material_id`, `band_gap`, `formation_energy_per_atom`, …, as in "
    "mp\\_20 / perov\\_5 / mp\\_37k), or a folder of CIF files under this server's corpus root."
)
st.caption(
    "Your indexes are visible to this browser session only, unless you tick *Share*; "
    "a name that is taken gets a suffix (`_2`), so no index is ever overwritten."
)
session = session_token()
root = corpus_root()

modes = ["Upload a CSV"] + (["Folder of CIF files"] if root is not None else [])
mode = st.radio("Source", modes, horizontal=True, key="corpus_mode")
if root is None:
    st.caption("Indexing folders on the server is off (an administrator can set `CLAC_CORPUS_ROOT`).")
STAY = "Stay on this page until the build is done: leaving it stops the build and nothing is saved."
# One form: the settings and the chosen file reach the server together with the click, and the
# browser keeps the button disabled while the file is still uploading. Without it, under load a
# click could reach the server before the uploaded file ("choose a CSV file first" beside the
# file's chip), or the upload's own rerun could arrive after the click and stop the build it had
# started, with nothing said (6 of 10 builds failed one of these ways in a 10-session benchmark run).
csv = folder = None
# Enter in the name box does not submit (it would ask for a build before a file is chosen)
with st.form("corpus_form", border=False, enter_to_submit=False):
    name = st.text_input("Index name", value="my_corpus", key="corpus_name")
    if mode == "Upload a CSV":
        csv = st.file_uploader("CSV file", type=["csv", "gz"], key="corpus_csv")
    else:
        folder = st.text_input("Folder (inside the corpus root)", key="corpus_folder")
    maxd = st.number_input("Max descriptions in the bank", 0, 100_000, 2000, step=500, key="corpus_maxd")
    share = st.checkbox("Share this index with every user of this server", value=False, key="corpus_share")
    st.caption(STAY)
    build = st.form_submit_button("Build index", type="primary", key="corpus_build")


def _upload_stem(filename: str) -> str:
    """The uploaded file's name without .csv/.gz, as a folder name (it becomes the source
    name and the id prefix of the crystals: ``perov_5:3961``, not ``tmpngf72uyl:3961``)."""
    stem = re.sub(r"(\.csv)?(\.gz)?$", "", Path(filename).name, flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._-")[:64] or "upload"


SHOW_REASONS = 5  # bad rows / files listed after a build that left some out


def _show_reasons(reasons: list[str], bad: int) -> None:
    """The first bad rows / files and why, as a list (each escaped)."""
    if not reasons:
        return
    lines = "\n".join(f"- {md_escape(' '.join(r.split()), 300)}" for r in reasons)
    more = f"\n\n…and {bad - len(reasons):,} more." if bad > len(reasons) else ""
    st.markdown(f"First {len(reasons)} of {bad:,} left out, and why:\n\n{lines}{more}")


def _skipped_note(skipped: list[str]) -> None:
    """After a build that left rows / files out: how many, and the first reasons."""
    if skipped:
        st.warning(f"{len(skipped):,} rows or files could not be read and were left out of the index.")
        _show_reasons(skipped[:SHOW_REASONS], len(skipped))


if build:
    st.info(STAY, icon=":material/hourglass_top:")
    bar = st.progress(0.0, text="starting")

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{plain(stage)}: {done}/{total}")

    out = None
    skipped: list[str] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if csv is not None:
                stem = _upload_stem(csv.name)
                d = Path(tmp) / stem
                d.mkdir()
                p = d / (f"{stem}.csv.gz" if csv.name.lower().endswith(".gz") else f"{stem}.csv")
                p.write_bytes(csv.getvalue())
                spec, label = f"csv:{p}", f"upload:{plain(csv.name, 120)}"
            elif folder:
                real = resolve_corpus_folder(folder)
                spec, label = f"cifs:{real}", f"folder:{real.relative_to(root.resolve()) if root else real.name}"
            else:
                raise ValueError("choose a CSV file or a folder first")
            out = build_user_index(
                ex, name=name, spec=spec, session=session, share=share, source_label=label,
                max_descriptions=int(maxd), progress=progress, skipped=skipped,
            )
        bar.progress(1.0, text="done")
    except CorpusFolderError as exc:
        st.error(md_escape(exc))
    except CorpusSourceError as exc:
        st.error(f"Could not build the index: {md_escape(exc)}")
        _show_reasons(exc.reasons, exc.bad)
    except Exception as exc:
        st.error(f"Could not build the index: {md_escape(exc)}")
    if out is not None:
        st.session_state["corpus_built"] = (out.name, skipped)
        select_index(out)  # selects it in the sidebar and reruns

if built := st.session_state.pop("corpus_built", None):
    st.success(f"Index {md_escape(built[0])} built; it is now selected in the sidebar and used by Search.")
    _skipped_note(built[1])

st.subheader("Available indexes")
mine = session_index_root(session).resolve()
for label, path in session_indexes().items():
    c1, c2 = st.columns([4, 1])
    c1.markdown(f"- {md_escape(label)}")
    if path.resolve().is_relative_to(mine) and c2.button("Share", key=f"corpus_share_{path.name}"):
        try:
            dst = share_index(path, session)
            st.success(f"Shared as {md_escape(dst.name)}.")
        except Exception as exc:
            st.error(f"Could not share it: {md_escape(exc)}")
