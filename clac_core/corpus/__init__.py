"""Sources of crystals (prototypes, decorated prototypes, CSV tables, CIF folders, extended-XYZ
files, Materials Project and Alexandria JSON) and the ``clac data build`` command that turns
them into crystal-text pair datasets.

Modules: ``prototypes`` (AFLOW + robocrys minerals), ``substitution`` (substitution tables,
radii, parents) and ``decorated`` (hypothetical crystals from them), ``tables`` (CSV tables),
``cif_folder`` (folders of structure files), ``extxyz_file`` (extended-XYZ frames) and
``json_entries`` (pymatgen / Materials Project and Alexandria JSON), read as streams with
``json_stream`` and ``streamed`` (what those share), ``sources`` (``--source`` specs), ``splits``
(formula-based splits); ``build`` (the command and its scheduling), ``build_chunks`` (the
per-crystal work) and ``build_files`` (what a build writes).

Names are imported lazily so that ``clac --help`` does not pay for pymatgen.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "CrystalRecord": "clac_core.record",
    "iter_prototypes": "clac_core.corpus.prototypes",
    "iter_decorated": "clac_core.corpus.decorated",
    "iter_csv": "clac_core.corpus.tables",
    "iter_cif_folder": "clac_core.corpus.cif_folder",
    "iter_extxyz": "clac_core.corpus.extxyz_file",
    "iter_mp_json": "clac_core.corpus.json_entries",
    "iter_alexandria": "clac_core.corpus.json_entries",
    "records_from_spec": "clac_core.corpus.sources",
    "assign_splits": "clac_core.corpus.splits",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'clac_core.corpus' has no attribute {name!r}")
