"""Turn a source spec string into records: the ``--source`` argument of ``clac data build``.

Specs: ``prototypes`` (AFLOW + robocrys minerals), ``decorated`` (hypothetical
substitutions, ``n_decorated`` of them), ``csv:PATH`` (a community CSV table or a folder such
as ``mp_37k/``), ``cifs:PATH`` (a folder of structure files; ``cifs:PATH@props.csv`` adds a
properties table keyed by file name), and three kinds read as a stream, one crystal at a time:
``extxyz:PATH`` (an extended-XYZ file, frames with their ``info`` properties;
:mod:`~clac_core.corpus.extxyz_file`), ``mpjson:PATH`` (pymatgen / Materials Project JSON
documents with a ``structure``) and ``alexandria:PATH`` (Alexandria's ``entries`` files, or a
folder of them; CC BY 4.0) (both :mod:`~clac_core.corpus.json_entries`). The three read plain,
``.gz``, ``.bz2`` and ``.xz`` files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pymatgen is heavy; `clac --help` imports this module
    from clac_core.record import CrystalRecord

SPEC_HELP = (
    "prototypes | decorated | csv:PATH (file or folder) | cifs:FOLDER[@properties.csv] | "
    "extxyz:FILE | mpjson:FILE | alexandria:FILE_OR_FOLDER"
)

PATH_KINDS: tuple[str, ...] = ("csv", "cifs", "extxyz", "mpjson", "alexandria")
"""Spec kinds that take a path after the colon."""


def spec_name(spec: str) -> str:
    """Short name of a spec for logs and manifests ("prototypes", "csv:perov_5")."""
    kind, _, rest = spec.partition(":")
    if not rest:
        return kind
    from clac_core.corpus.tables import default_source_name

    path = rest.split("@")[0] if kind == "cifs" else rest
    return f"{kind}:{default_source_name(path)}"


def records_from_spec(
    spec: str,
    *,
    seed: int = 0,
    n_decorated: int = 20000,
    limit: int | None = None,
    skipped: list[str] | None = None,
    strict: bool = False,
) -> Iterator[CrystalRecord]:
    """Records for one source spec (see module docstring).

    Args:
        spec: the spec string.
        seed: seed for generated sources (decorated).
        n_decorated: number of decorated crystals.
        limit: at most this many records from this source (None: all).
        skipped: for path specs, receives one reason per skipped row, file, frame or entry.
        strict: for path specs, raise at the first bad row, file, frame or entry.

    Raises:
        ValueError: unknown spec kind.
        FileNotFoundError: a path spec's file or folder does not exist (raised when the
            records are first read).
    """
    import itertools

    kind, _, arg = spec.partition(":")
    if kind == "prototypes" and not arg:
        from clac_core.corpus.prototypes import iter_prototypes

        it: Iterator[CrystalRecord] = iter_prototypes()
    elif kind == "decorated" and not arg:
        from clac_core.corpus.decorated import iter_decorated

        n = n_decorated if limit is None else min(n_decorated, limit)
        it = iter_decorated(n, seed)
    elif kind == "csv" and arg:
        from clac_core.corpus.tables import iter_csv

        it = iter_csv(Path(arg), limit=limit, skipped=skipped, strict=strict)
    elif kind == "cifs" and arg:
        from clac_core.corpus.cif_folder import iter_cif_folder

        folder, _, props = arg.partition("@")
        it = iter_cif_folder(Path(folder), props or None, skipped=skipped, strict=strict)
    elif kind == "extxyz" and arg:
        from clac_core.corpus.extxyz_file import iter_extxyz

        it = iter_extxyz(Path(arg), skipped=skipped, strict=strict)
    elif kind == "mpjson" and arg:
        from clac_core.corpus.json_entries import iter_mp_json

        it = iter_mp_json(Path(arg), skipped=skipped, strict=strict)
    elif kind == "alexandria" and arg:
        from clac_core.corpus.json_entries import iter_alexandria

        it = iter_alexandria(Path(arg), skipped=skipped, strict=strict)
    else:
        raise ValueError(f"unknown source spec {spec!r}; expected {SPEC_HELP}")
    return itertools.islice(it, limit) if limit is not None else it
