"""CLaC Explorer: Streamlit entry point (page config, shared sidebar, navigation).

Run with ``streamlit run app.py``. Streamlit finds ``app`` below (an ``st.App``, its ASGI
server) and imports this file once to build it; every page view then runs this file as the
script (``__name__ == "__main__"``, also under ``AppTest``). The App's lifespan starts loading
the model and the index when the server starts, before a browser has connected (issue 19: the
first Search page waited for a load that began only with the first page view).
Pages live in ``app_pages/`` and only call
``clac_core.inference``; ``app_pages/ui/`` holds the cached loaders, the sidebar and the
widgets the pages share.
The folder is deliberately not called ``pages/``: Streamlit 1.67 still switches to its legacy
(v1) multipage mode when a ``pages/`` folder sits beside the entry point and the first request
of the process lands on a sub-page URL, which then bypasses ``st.navigation`` and this sidebar.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

# spglib prints C-level warnings to stderr for every distorted cell it is asked about; they
# flood the server log and tell the user nothing (issue 12, point 7). Set before spglib loads.
os.environ.setdefault("SPGLIB_WARNING", "OFF")

import streamlit as st  # noqa: E402

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # AppTest does not always put the script folder on sys.path
    sys.path.insert(0, str(ROOT))

HOME = ROOT / "app_pages/home.py"


def run_page() -> None:
    """One script run: page config, navigation, the shared sidebar and the page asked for."""
    from app_pages.ui.loaders import warm_up
    from app_pages.ui.sidebar import favicon, sidebar

    # A local image: a Material-icon or emoji favicon makes the browser fetch it from a font/CDN
    # host, which fails offline and leaks the visit (issue 12, point 7).
    st.set_page_config(page_title="CLaC Explorer", page_icon=favicon(), layout="wide")

    pages = [
        # The default page is served at "/" whatever its url_path says (that name is only reserved),
        # so "/home" is a hidden second page running the same script: a deep link to it shows Home
        # instead of Streamlit's "Page not found" dialog (issue 19).
        st.Page(HOME, title="Home", icon=":material/home:", default=True, url_path="start"),
        st.Page(HOME, title="Home", icon=":material/home:", url_path="home", visibility="hidden"),
        st.Page(ROOT / "app_pages/search.py", title="Search by text", icon=":material/search:", url_path="search"),
        st.Page(ROOT / "app_pages/upload.py", title="Upload crystals", icon=":material/upload_file:", url_path="upload"),
        st.Page(ROOT / "app_pages/viewer.py", title="3D viewer", icon=":material/view_in_ar:", url_path="viewer"),
        st.Page(ROOT / "app_pages/explorer.py", title="Embedding map", icon=":material/scatter_plot:", url_path="map"),
        st.Page(ROOT / "app_pages/corpus.py", title="Corpus indexes", icon=":material/folder_open:", url_path="corpus"),
        st.Page(ROOT / "app_pages/about.py", title="About the model", icon=":material/info:", url_path="about"),
    ]
    nav = st.navigation(pages)
    warm_up()  # a cache hit once the server start began the load (a non-default index: starts it)
    sidebar()
    nav.run()


@asynccontextmanager
async def _server_lifespan(_app: object) -> AsyncIterator[None]:
    # imported here, once the server's runtime exists: the loaders' caches then attach to it
    from app_pages.ui.loaders import warm_up_at_start

    warm_up_at_start()  # returns at once: the load runs on the preload thread
    yield


if __name__ == "__main__":  # a page view (the script run), or AppTest
    run_page()
else:  # imported by `streamlit run app.py` to build its server (module name "app")
    app = st.App(__file__, lifespan=_server_lifespan)
