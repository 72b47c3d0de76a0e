"""Build an index: metadata rows, crystal and description embeddings, the manifest.

Embedding goes through :mod:`clac_core.embed` (the one batching loop); symmetry metadata
through :mod:`clac_core.symmetry`; a ``clac data build`` directory through
:func:`clac_core.data.load_data_dir`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.embed import ProgressFn, embed_and_predict_structures, embed_texts
from clac_core.index.filters import CorpusIndexError
from clac_core.index.hull import with_hull_column
from clac_core.index.store import INDEX_VERSION, METADATA_COLUMNS, CorpusIndex
from clac_core.models.fingerprint import checkpoint_hash
from clac_core.properties import PREDICTED_PREFIX
from clac_core.symmetry import symmetry_info
from clac_core.vocab.structure_types import structure_type_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from clac_core.record import CrystalRecord
    from clac_core.text.facts import CrystalFacts


# structure words stored per crystal (computed by clac_core.text.analyze; absent in old indexes,
# and scripts/add_index_columns.py adds structure_type to an index built before it)
STRUCTURE_WORD_COLUMNS = ("dimensionality", "cation_polyhedra", "structure_type")


def structure_columns(facts: CrystalFacts | None) -> dict[str, Any]:
    """``dimensionality`` (0 molecular, 1 chains, 2 layers, 3 framework; NaN unknown),
    ``cation_polyhedra`` (the distinct polyhedra around cation sites, ";"-joined, e.g.
    "octahedral;tetrahedral"; "" unknown) and ``structure_type`` ("perovskite", "rock salt", ...
    by the rules of :mod:`clac_core.vocab.structure_types`; "" for none or unknown) of a
    crystal's computed facts."""
    if facts is None:
        return {"dimensionality": float("nan"), "cation_polyhedra": "", "structure_type": ""}
    anions = set(facts.anions)
    polys = sorted({s.polyhedron for s in facts.sites if s.polyhedron and s.element not in anions})
    dim = float(facts.dimensionality) if facts.dimensionality is not None else float("nan")
    kind = structure_type_of(facts.spacegroup_number, facts.anions, facts.sites)
    return {"dimensionality": dim, "cation_polyhedra": ";".join(polys), "structure_type": kind}


def crystal_facts(record: CrystalRecord) -> CrystalFacts | None:
    """:func:`clac_core.text.analyze` of a record, None when its facts cannot be computed."""
    from clac_core.text import analyze

    try:
        return analyze(record.structure, labels=record.labels)  # as describe() calls it
    except Exception:  # a crystal whose facts cannot be computed has no structure words
        return None


def _metadata_in_place(index_dir: str | Path) -> Path:
    """The metadata file of an index directory, or CorpusIndexError when it has none."""
    path = Path(index_dir) / "metadata.parquet"
    if not path.is_file():
        raise CorpusIndexError(f"{index_dir} is not an index directory: it has no metadata.parquet")
    return path


def _swap_in(md: pd.DataFrame, path: Path) -> None:
    """Write ``md`` beside ``path`` under a temporary name, then swap it in (``os.replace``): a
    reader never sees half a file."""
    import os

    from clac_core.index.columns import write_metadata

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_metadata(md, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def add_structure_types(index_dir: str | Path, progress: ProgressFn | None = None) -> dict[str, int]:
    """Compute the ``structure_type`` column of an index built before it, in place.

    Each stored structure is analyzed as at build time (:func:`structure_columns`); the new
    metadata file is swapped in whole (:func:`_swap_in`). An existing column is recomputed.

    Returns:
        structure type -> number of crystals ("" for none).

    Raises:
        CorpusIndexError: if the directory has no metadata file.
    """
    from clac_core.index.columns import STRUCTURE_COLUMNS, read_metadata
    from clac_core.record import structure_from_arrays
    from clac_core.text import analyze

    path = _metadata_in_place(index_dir)
    md = read_metadata(path, lazy=False)
    kinds: list[str] = []
    for i, arrays in enumerate(zip(*(md[c] for c in STRUCTURE_COLUMNS), strict=True)):
        try:
            facts: CrystalFacts | None = analyze(structure_from_arrays(*arrays))
        except Exception:  # as crystal_facts: a crystal whose facts cannot be computed has no type
            facts = None
        kinds.append(structure_columns(facts)["structure_type"])
        if progress is not None and (i + 1) % 1000 == 0:
            progress("structure types", i + 1, len(md))
    md = md.drop(columns=["structure_type"], errors="ignore")
    at = list(md.columns).index("cation_polyhedra") + 1 if "cation_polyhedra" in md.columns else len(md.columns)
    md.insert(at, "structure_type", kinds)
    _swap_in(md, path)
    counts: dict[str, int] = {}
    for k in kinds:
        counts[k] = counts.get(k, 0) + 1
    return counts


def add_corpus_hull(index_dir: str | Path, progress: ProgressFn | None = None) -> int:
    """Compute the energy-above-hull column (:mod:`clac_core.index.hull`) of an index built
    before it, in place (swapped in whole, as :func:`add_structure_types`). Returns the number
    of crystals that got a value. Raises CorpusIndexError without a metadata file."""
    from clac_core.index.columns import read_metadata
    from clac_core.properties import HULL_COLUMN

    path = _metadata_in_place(index_dir)
    md = with_hull_column(read_metadata(path, lazy=False).drop(columns=[HULL_COLUMN], errors="ignore"), progress)
    _swap_in(md, path)
    return int(md[HULL_COLUMN].notna().sum()) if HULL_COLUMN in md.columns else 0


def metadata_row(record: CrystalRecord, facts: CrystalFacts | None = None) -> dict[str, Any]:
    """One metadata row (``METADATA_COLUMNS`` + properties + :data:`STRUCTURE_WORD_COLUMNS`) for a
    record (``facts``: its computed facts, when the caller has them)."""
    from clac_core.record import structure_to_arrays

    s = record.structure
    row: dict[str, Any] = {
        "crystal_id": record.id,
        "formula": record.formula,
        "source": record.source,
        "hypothetical": bool(record.hypothetical),
        **symmetry_info(s),
        "nsites": len(s),
        "elements": " ".join(sorted({el.symbol for el in s.composition.elements})),
        **structure_to_arrays(s),
    }
    row["density"] = float(s.density)  # g/cm³, known for every crystal (property-aware search)
    row.update(structure_columns(facts if facts is not None else crystal_facts(record)))
    for k, v in record.properties.items():
        row[k] = float(v)
    return row


def predicted_properties(model: Any, predictions: np.ndarray) -> dict[str, np.ndarray]:
    """``predicted_<property>`` -> (N,) columns of the model's (N, K) aux-head predictions
    ({} without a head).

    The app shows them, marked as predicted, where a crystal has no DFT value; their test
    error is measured by ``clac eval`` (``property_aware.aux_head``)."""
    names = list(getattr(model.cfg, "aux_properties", []) or [])
    if predictions.shape[1] != len(names):
        return {}
    return {f"{PREDICTED_PREFIX}{n}": predictions[:, k].astype(np.float32) for k, n in enumerate(names)}


def _descriptions_for(
    records: Sequence[CrystalRecord], seed: int, facts: Sequence[CrystalFacts | None]
) -> list[tuple[str, str, str]]:
    """(text, view, crystal_id) for each generated description of each record (``facts``: each
    record's computed facts, already computed for the metadata)."""
    from clac_core.text import describe

    out = []
    for i, rec in enumerate(records):
        if facts[i] is None:
            continue  # a crystal whose facts cannot be computed contributes no text
        try:
            descs = describe(rec, seed=seed + i, facts=facts[i])
        except Exception:  # a crystal whose facts cannot be computed contributes no text
            continue
        out.extend((d.text, d.view, rec.id) for d in descs)
    return out


def _dedupe_cap(items: Iterable[tuple[str, str, str]], cap: int, seed: int) -> list[tuple[str, str, str]]:
    seen: dict[str, tuple[str, str, str]] = {}
    for t in items:
        key = " ".join(t[0].split())
        if key and key not in seen:
            seen[key] = t
    vals = list(seen.values())
    if cap and len(vals) > cap:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(vals), size=cap, replace=False))
        vals = [vals[i] for i in keep]
    return vals


def records_from_data_dir(data_dir: str | Path) -> tuple[list[CrystalRecord], list[tuple[str, str, str]]]:
    """Records and (text, view, crystal_id) pairs of a ``clac data build`` directory
    (read by :func:`clac_core.data.load_data_dir`)."""
    from clac_core.data import load_data_dir

    data = load_data_dir(data_dir)
    return data.records(), data.texts()


def _cached_features(model: Any, structures: Sequence[Any], cache: str | Path | None) -> np.ndarray | None:
    """(N, F) pretrained features of ``structures`` from (and into) ``cache``, or None."""
    from clac_core.graph.pretrained import feature_kind

    kind = feature_kind(model.cfg.crystal)
    if cache is None or kind is None:
        return None
    from clac_core.data.crystal_features import cached_pretrained_features

    return cached_pretrained_features(cache, structures, kind, progress=len(structures) >= 256)


def build(
    model: Any,
    records: Sequence[CrystalRecord],
    *,
    checkpoint: str | Path | None = None,
    sources: Sequence[str] = (),
    texts: Sequence[tuple[str, str, str]] | None = None,
    max_descriptions: int = 5000,
    seed: int = 0,
    progress: ProgressFn | None = None,
    feature_cache: str | Path | None = None,
) -> CorpusIndex:
    """Embed a corpus into an index.

    Args:
        model: a loaded ``CLaCModel``.
        records: crystals to index.
        checkpoint: checkpoint path, hashed into the manifest.
        sources: source specs recorded in the manifest.
        texts: (text, view, crystal_id) description candidates; None = generate with
            ``clac_core.text.describe``.
        max_descriptions: cap on the deduplicated description bank (0 = no cap).
        seed: seed for description generation and subsampling.
        progress: callback (stage, done, total) for UIs; a caller that reports progress itself
            gets no terminal bars (they would land in a server's log).
        feature_cache: a cache folder of pretrained crystal features (a data dir's ``cache/``)
            to read and extend, for encoders that read them (CHGNet); None = compute them.
    """
    import pandas as pd

    if not records:
        raise CorpusIndexError("no crystals to index")
    bars = progress is None  # terminal bars only for a caller that shows no progress itself
    facts = [crystal_facts(r) for r in records]
    meta = with_hull_column(_metadata_frame(records, facts, progress), progress)
    structures = [r.structure for r in records]
    emb, pred = embed_and_predict_structures(
        model, structures, 64, bars and len(structures) >= 256, callback=progress, desc="crystals",
        features=_cached_features(model, structures, feature_cache),
    )
    for col, values in predicted_properties(model, pred).items():
        meta[col] = values
    if texts is None:
        if progress:
            progress("descriptions", 0, 1)
        texts = _descriptions_for(records, seed, facts)
    bank = _dedupe_cap(texts, max_descriptions, seed)
    desc = pd.DataFrame(bank, columns=["text", "view", "crystal_id"])
    demb = (
        embed_texts(
            model, list(desc["text"]), 128, bars and len(desc) >= 256, callback=progress, desc="descriptions"
        )
        if len(desc)
        else np.zeros((0, emb.shape[1]), dtype=np.float32)
    )
    manifest = _manifest(checkpoint, sources, max_descriptions, seed)
    return CorpusIndex(
        embeddings=emb, metadata=meta, desc_embeddings=demb, descriptions=desc, manifest=manifest
    )


def _metadata_frame(
    records: Sequence[CrystalRecord], facts: Sequence[CrystalFacts | None], progress: ProgressFn | None
) -> pd.DataFrame:
    """(N rows) metadata of ``records`` (:func:`metadata_row` each), reporting progress."""
    import pandas as pd
    from tqdm.auto import tqdm

    rows = []
    quiet = progress is not None or len(records) < 256  # a caller with a callback gets no bar
    for i, rec in enumerate(tqdm(records, desc="metadata", disable=quiet, leave=False)):
        rows.append(metadata_row(rec, facts[i]))
        if progress and (i % 50 == 0 or i == len(records) - 1):
            progress("metadata", i + 1, len(records))
    meta = pd.DataFrame(rows)
    for col in METADATA_COLUMNS:
        if col not in meta.columns:
            raise CorpusIndexError(f"metadata column {col} missing")
    return meta


def _manifest(
    checkpoint: str | Path | None, sources: Sequence[str], max_descriptions: int, seed: int
) -> dict[str, Any]:
    """The manifest of a new index (version, creation time, checkpoint and its hash, sources)."""
    return {
        "version": INDEX_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "checkpoint": str(checkpoint) if checkpoint else None,
        "checkpoint_hash": checkpoint_hash(checkpoint) if checkpoint else None,
        "sources": list(sources),
        "max_descriptions": max_descriptions,
        "seed": seed,
    }


def records_from_specs(
    specs: Sequence[str], *, skipped: list[str] | None = None, strict: bool = False
) -> list[CrystalRecord]:
    """All records of the given source specs (see clac_core.corpus.sources.records_from_spec).

    Args:
        specs: source specs.
        skipped: receives one reason per bad CSV row or structure file that was left out.
        strict: raise at the first bad row or file instead.
    """
    from clac_core.corpus.sources import records_from_spec

    out: list[CrystalRecord] = []
    for spec in specs:
        out.extend(records_from_spec(spec, skipped=skipped, strict=strict))
    return out


def build_from_args(
    *,
    checkpoint: str | Path,
    data: str | Path | None = None,
    sources: Sequence[str] = (),
    max_descriptions: int = 5000,
    seed: int = 0,
    progress: ProgressFn | None = None,
    skipped: list[str] | None = None,
    strict: bool = False,
) -> CorpusIndex:
    """Load a checkpoint and build an index from a data dir or source specs.

    ``skipped`` / ``strict``: see :func:`records_from_specs` (source specs only).
    """
    from clac_core.models import CLaCModel

    if data is not None:
        records, texts = records_from_data_dir(data)
        srcs: list[str] = [f"data:{data}"]
    else:
        if not sources:
            raise CorpusIndexError("give --data DIR or at least one --source SPEC")
        records = records_from_specs(sources, skipped=skipped, strict=strict)
        texts, srcs = None, list(sources)
    if not records:
        raise CorpusIndexError("no usable crystals to index (every row or file was skipped)")
    model = CLaCModel.from_checkpoint(checkpoint)
    return build(
        model,
        records,
        checkpoint=checkpoint,
        sources=srcs,
        texts=texts,
        max_descriptions=max_descriptions,
        seed=seed,
        progress=progress,
    )
