"""Load the map's plotting library in the browser while the user is still on Home (issue 19).

The Embedding map's first render was measured at 2.9-4.2 s against a 3 s target, and ~2.4 s of
it is the browser fetching, parsing and running Streamlit's plotly chunk (``PlotlyChart.*.js``,
4.7 MB), which the frontend imports only when the first chart appears. :func:`warm_map_library`
adds a script to the page that imports that same chunk once per browser tab, four seconds after
the page opened, when the browser is idle; ES modules are evaluated once per URL, so the map's
own import later finds it done.

The chunk's name is read from the installed Streamlit's static folder; if it is not there (another
Streamlit build), nothing is added and the map loads as before. ``CLAC_WARM_MAP=0`` turns it off
(for the browser benchmark's before/after).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import streamlit as st

# Measured (benchmarks/bench_browser.py, 2 cores, Chromium beside the server): importing at the
# first idle moment took the CPU from a Search page opened at once (first Search 2.7-3.1 s, against
# 1.6-2.0 s without); four seconds later it does not (1.4-1.8 s), and the map still finds it done.
DELAY_MS = 4000

# The page's own entry module (``./static/js/index.<hash>.js``) gives the folder the frontend's
# chunks are served from, under any base URL path; the import is the same URL the frontend's
# lazy import resolves to, so the browser's module map holds one copy.
_SCRIPT = """<script>
(() => {
  if (window.__clacMapLibrary) return;
  const entry = document.querySelector('script[type="module"][src*="/static/js/index."]');
  if (!entry) return;
  window.__clacMapLibrary = "pending";
  const url = new URL(%s, entry.src).href;
  const load = () => import(url).then(
    () => { window.__clacMapLibrary = "ready"; },
    () => { window.__clacMapLibrary = "failed"; });
  const idle = () => (window.requestIdleCallback ? window.requestIdleCallback(load, {timeout: 5000}) : load());
  setTimeout(idle, %d);
})();
</script>"""


@functools.lru_cache(maxsize=1)
def plotly_chunk() -> str | None:
    """File name of the installed Streamlit frontend's plotly chunk, or None (not exactly one)."""
    folder = Path(st.__file__).parent / "static" / "static" / "js"
    found = sorted(p.name for p in folder.glob("PlotlyChart.*.js"))
    return found[0] if len(found) == 1 else None


def warm_script() -> str | None:
    """The ``<script>`` that imports the plotly chunk when the browser is idle, or None when it
    is turned off (``CLAC_WARM_MAP=0``) or the chunk is not found."""
    chunk = plotly_chunk()
    if os.environ.get("CLAC_WARM_MAP", "1") == "0" or chunk is None:
        return None
    return _SCRIPT % (json.dumps("./" + chunk), DELAY_MS)


def warm_map_library() -> None:
    """Add the warm-up script to this page (it imports the chunk once per browser tab)."""
    script = warm_script()
    if script is not None:
        st.html(script, unsafe_allow_javascript=True)
