"""The app's own UI toolkit, shared by the pages in ``app_pages/`` (not a page itself).

One job per module:

- :mod:`~app_pages.ui.session`: the browser session's token, its indexes and the selected one.
- :mod:`~app_pages.ui.loaders`: cached loaders of the model, the index and the Explorer.
- :mod:`~app_pages.ui.sidebar`: the shared sidebar (index selector, what is loaded), the favicon.
- :mod:`~app_pages.ui.filters`: search filter widgets -> ``SearchFilters``.
- :mod:`~app_pages.ui.results`: result tables and map selections.
- :mod:`~app_pages.ui.structure_view`: the 3D view with its controls, lattice and site tables.
- :mod:`~app_pages.ui.handoff`: what travels between pages (Home -> Search / Upload) and what a
  page keeps for the session (uploads and their results, pasted text, the last query).
- :mod:`~app_pages.ui.lookup`: find corpus crystals by id or formula (the viewer's search box).
- :mod:`~app_pages.ui.display`: escaping, property formatting, hiding machine paths (no streamlit).
- :mod:`~app_pages.ui.viewer3d`: the one wrapper around 3Dmol.js's HTML (no streamlit).
- :mod:`~app_pages.ui.browser_warm`: Home loads the map's plotting library in the browser while idle.

All model and index logic lives in ``clac_core.inference``; these modules only render.
"""
