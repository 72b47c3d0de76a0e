"""The per-crystal work of ``clac data build``: records reduced to compact payloads, payloads
grouped into chunks, and each chunk turned into crystal and pair rows (facts, texts, CIF) and
written as part files (this part runs in worker processes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from clac_core.corpus.build_files import CRYSTAL_COLUMNS, PAIR_COLUMNS, _part_paths, _write_table

# --------------------------------------------------------------------------------------
# payloads and chunks (main process)


def _payload(rec) -> dict[str, Any]:
    from clac_core.record import structure_to_arrays

    return {
        "id": rec.id,
        "source": rec.source,
        "provenance": dict(rec.provenance),
        "properties": dict(rec.properties),
        "labels": dict(rec.labels),
        "hypothetical": bool(rec.hypothetical),
        **structure_to_arrays(rec.structure),
    }


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --------------------------------------------------------------------------------------
# per-chunk work (runs in worker processes)


def process_payload(
    p: dict[str, Any], *, seed: int, robocrys: bool, fractions, search_texts: int = 1
) -> tuple[dict, list[dict]]:
    """One crystal: facts, texts, CIF. Returns (crystal row, pair rows)."""
    import warnings

    from pymatgen.io.cif import CifWriter

    from clac_core.corpus.splits import split_of
    from clac_core.record import CrystalRecord, structure_from_arrays
    from clac_core.text import analyze, describe

    structure = structure_from_arrays(p["lattice"], p["frac_coords"], p["atomic_numbers"])
    rec = CrystalRecord(
        id=p["id"],
        structure=structure,
        source=p["source"],
        provenance=p["provenance"],
        properties=p["properties"],
        labels=p["labels"],
        hypothetical=p["hypothetical"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        facts = analyze(structure, labels=rec.labels)
        texts = describe(rec, seed=seed, robocrys=robocrys, facts=facts, search_texts=search_texts)
        cif = str(CifWriter(structure))
    formula = structure.composition.reduced_formula
    split = split_of(formula, seed=seed, fractions=fractions)
    crystal = _crystal_row(rec, p, facts, formula=formula, split=split, cif=cif)
    return crystal, _pair_rows(rec, texts, formula=formula, split=split, cif=cif)


def _crystal_row(rec, p: dict[str, Any], facts, *, formula: str, split: str, cif: str) -> dict[str, Any]:
    """The ``crystals.parquet`` row of one crystal (arrays straight from its payload)."""
    return {
        "crystal_id": rec.id,
        "formula": formula,
        "source": rec.source,
        "split": split,
        "hypothetical": rec.hypothetical,
        "parent": rec.provenance.get("parent_id"),
        "spacegroup_symbol": facts.spacegroup_symbol,
        "spacegroup_number": int(facts.spacegroup_number),
        "crystal_system": facts.crystal_system,
        "nsites": len(rec.structure),
        "cif": cif,
        "lattice": p["lattice"],
        "frac_coords": p["frac_coords"],
        "atomic_numbers": p["atomic_numbers"],
        "properties": json.dumps(rec.properties, sort_keys=True),
        "labels": json.dumps(rec.labels, sort_keys=True),
        "provenance": json.dumps(rec.provenance, sort_keys=True),
    }


def _pair_rows(rec, texts, *, formula: str, split: str, cif: str) -> list[dict[str, Any]]:
    """The ``pairs.parquet`` rows of one crystal: its descriptions, then the texts given in
    its provenance (``"text:<column>"``, view ``"given"``); empty texts are dropped."""
    views = [(d.view, d.text) for d in texts]
    views += [("given", v) for k, v in sorted(rec.provenance.items()) if k.startswith("text:")]
    return [
        {
            "crystal_id": rec.id,
            "text": text,
            "view": view,
            "split": split,
            "formula": formula,
            "source": rec.source,
            "cif": cif,
        }
        for view, text in views
        if text
    ]


def process_chunk(task: tuple[int, list[dict[str, Any]], str, dict[str, Any]]) -> dict[str, Any]:
    """Process one chunk and write its part files. Returns counts and failures."""
    k, payloads, parts_dir, cfg = task
    crystals, pairs, failed = [], [], []
    for p in payloads:
        try:
            c, ps = process_payload(
                p,
                seed=cfg["seed"],
                robocrys=cfg["robocrys"],
                fractions=cfg["fractions"],
                search_texts=cfg.get("search_texts", 1),
            )
        except Exception as err:  # one bad crystal never stops the build
            failed.append((p["id"], f"{type(err).__name__}: {err}"[:300]))
            continue
        crystals.append(c)
        pairs.extend(ps)
    parts = Path(parts_dir)
    cpath, ppath = _part_paths(parts, k)
    meta = {b"clac_failed_ids": json.dumps([f[0] for f in failed]).encode()}
    _write_table(crystals, CRYSTAL_COLUMNS, cpath, meta)
    _write_table(pairs, PAIR_COLUMNS, ppath)  # written last: its presence marks the part done
    return {"k": k, "crystals": len(crystals), "pairs": len(pairs), "failed": failed}
