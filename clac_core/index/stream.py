"""Streaming index builds: chunks written as they finish, resume after a kill, shards, merge.

A build works in a folder ``work`` (default ``<out>.partial``)::

    plan.json                  checkpoint hash, sources, chunk size, seed, description cap
    texts.parquet              description candidates given by a data dir (else made per chunk)
    chunks/chunk_<c>/          one finished chunk: embeddings.npy (float32), metadata.parquet,
                               texts.parquet (the chunk's generated descriptions)

Chunk ``c`` holds records ``[c * chunk_size, (c + 1) * chunk_size)`` of the source stream; a
chunk is written under a temporary name and renamed when complete, so a killed build leaves
only whole chunks, and a rerun skips them. ``--shard i/n`` embeds the chunks with
``c % n == i`` (a Slurm array task or a Ray task per shard over the same ``work`` folder;
under ``torchrun`` rank r of W builds shard r/W, as :func:`stream_build_from_args` says);
:func:`merge_chunks` concatenates every chunk in order, builds the description bank, and
writes the index under a temporary name before swapping it in: the same index a single
build gives (with ``chunk_size`` a multiple of the embedding batch, 64, the same batches too).
Shape legend: N crystals, D embedding dims.
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clac_core.embed import embed_and_predict_structures, embed_texts
from clac_core.index.build import (
    _cached_features,
    _dedupe_cap,
    _descriptions_for,
    _manifest,
    _metadata_frame,
    crystal_facts,
    predicted_properties,
)
from clac_core.index.filters import CorpusIndexError
from clac_core.index.hull import with_hull_column
from clac_core.index.store import CorpusIndex
from clac_core.training.distributed import DistInfo, barrier

log = logging.getLogger(__name__)

TEXT_COLUMNS = ["text", "view", "crystal_id"]


@dataclass(frozen=True)
class BuildPlan:
    """What a streaming build is; a rerun or another shard must agree with it."""

    checkpoint: str | None
    checkpoint_hash: str | None
    sources: tuple[str, ...]
    chunk_size: int
    max_descriptions: int
    seed: int


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 0 <= i < n."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError as exc:
        raise CorpusIndexError(f"--shard wants i/n (e.g. 0/4), got {text!r}") from exc
    if not 0 <= i < n:
        raise CorpusIndexError(f"--shard {text}: need 0 <= i < n")
    return i, n


def shard_for(dist: DistInfo | None, shard: tuple[int, int] | None) -> tuple[int, int] | None:
    """The shard this process builds: ``shard`` (``--shard``), or r/W for rank r of W under torchrun."""
    if dist is None or not dist.enabled:
        return shard
    if shard is not None:
        raise CorpusIndexError(f"--shard {shard[0]}/{shard[1]} does not go with torchrun: there rank r of W "
                               "builds shard r/W")
    return dist.rank, dist.world_size


def write_plan(work: Path, plan: BuildPlan, texts: Sequence[tuple[str, str, str]] | None) -> None:
    """Create ``work`` with the plan, or check that an existing one has the same plan."""
    import pandas as pd

    work.mkdir(parents=True, exist_ok=True)
    path = work / "plan.json"
    mine = json.loads(json.dumps(asdict(plan)))
    if path.exists():
        theirs = json.loads(path.read_text(encoding="utf-8"))
        if theirs != mine:
            raise CorpusIndexError(f"{work} holds another build ({theirs}); give another --work or remove it")
    else:
        _replace_text(path, json.dumps(mine, indent=2))
    if texts is not None and not (work / "texts.parquet").exists():
        tmp = _tmp_name(work / "texts.parquet")
        pd.DataFrame(list(texts), columns=TEXT_COLUMNS).to_parquet(tmp, index=False)
        tmp.replace(work / "texts.parquet")


def _tmp_name(path: Path) -> Path:
    # one name per writer: shards starting together (torchrun ranks, a Slurm array) all write
    # the same plan; each renames its own whole copy over the file
    return path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def _replace_text(path: Path, text: str) -> None:
    tmp = _tmp_name(path)
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def chunk_dir(work: Path, c: int) -> Path:
    return work / "chunks" / f"chunk_{c:06d}"


def iter_chunks(records: Iterable[Any], chunk_size: int) -> Iterator[tuple[int, list[Any]]]:
    """(chunk number, records) over a stream, ``chunk_size`` records at a time."""
    it = iter(records)
    for c in itertools.count():
        part = list(itertools.islice(it, chunk_size))
        if not part:
            return
        yield c, part


def embed_chunk(model: Any, records: Sequence[Any], c: int, plan: BuildPlan, *, make_texts: bool, out: Path,
                feature_cache: Path | None = None) -> None:
    """Metadata, embeddings (float32) and, with ``make_texts``, generated descriptions of one
    chunk, written to ``out`` under a temporary name and renamed when complete
    (``feature_cache``: a data dir's cache of pretrained crystal features, as in ``build``)."""
    import pandas as pd

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # a chunk a killed run left half-written
    tmp.mkdir(parents=True)
    facts = [crystal_facts(r) for r in records]
    meta = _metadata_frame(records, facts, None)
    structures = [r.structure for r in records]
    emb, pred = embed_and_predict_structures(model, structures, 64, False,
                                             features=_cached_features(model, structures, feature_cache))
    for col, values in predicted_properties(model, pred).items():
        meta[col] = values
    np.save(tmp / "embeddings.npy", np.asarray(emb, dtype=np.float32), allow_pickle=False)
    meta.to_parquet(tmp / "metadata.parquet", index=False)
    if make_texts:  # seeds as in a single build: seed + the record's position in the stream
        texts = _descriptions_for(records, plan.seed + c * plan.chunk_size, facts)
        pd.DataFrame(texts, columns=TEXT_COLUMNS).to_parquet(tmp / "texts.parquet", index=False)
    tmp.rename(out)


def build_chunks(
    model: Any,
    records: Iterable[Any],
    work: str | Path,
    plan: BuildPlan,
    *,
    texts: Sequence[tuple[str, str, str]] | None = None,
    shard: tuple[int, int] = (0, 1),
    feature_cache: Path | None = None,
) -> dict[str, int]:
    """Embed this shard's chunks of ``records`` into ``work`` (finished chunks are skipped).

    Returns counts: ``chunks`` seen in the stream, ``embedded`` now, ``kept`` from before.
    """
    from tqdm.auto import tqdm

    work = Path(work)
    write_plan(work, plan, texts)
    i, n = shard
    counts = {"chunks": 0, "embedded": 0, "kept": 0}
    for c, part in tqdm(iter_chunks(records, plan.chunk_size), desc=f"chunks (shard {i}/{n})", unit="chunk"):
        counts["chunks"] += 1
        if c % n != i:
            continue
        out = chunk_dir(work, c)
        if out.exists():
            counts["kept"] += 1
            continue
        embed_chunk(model, part, c, plan, make_texts=texts is None, out=out, feature_cache=feature_cache)
        counts["embedded"] += 1
    (work / f"stream_end_{i}_of_{n}.json").write_text(json.dumps({"chunks": counts["chunks"]}), encoding="utf-8")
    return counts


def merge_chunks(model: Any, work: str | Path, out: str | Path) -> CorpusIndex:
    """Concatenate every chunk of ``work`` in order, build the description bank, and write the
    index to ``out`` (under a temporary name, then swapped in). Raises when a chunk is missing."""
    import pandas as pd

    work, out = Path(work), Path(out)
    plan = BuildPlan(**{**json.loads((work / "plan.json").read_text(encoding="utf-8"))})
    done = sorted(p for p in (work / "chunks").glob("chunk_*") if not p.name.endswith(".tmp"))
    ends = [json.loads(p.read_text(encoding="utf-8"))["chunks"] for p in work.glob("stream_end_*.json")]
    expected = max(ends) if ends else None
    if expected is None or len(done) != expected:
        raise CorpusIndexError(f"{work}: {len(done)} of {expected or '?'} chunks finished; run the missing shards")
    emb = np.concatenate([np.load(p / "embeddings.npy") for p in done])
    # the hull is over the whole corpus: computed once the chunks are merged, not per chunk
    meta = with_hull_column(pd.concat([pd.read_parquet(p / "metadata.parquet") for p in done], ignore_index=True))
    if (work / "texts.parquet").exists():
        cands = pd.read_parquet(work / "texts.parquet")
    else:
        cands = pd.concat([pd.read_parquet(p / "texts.parquet") for p in done], ignore_index=True)
    bank = _dedupe_cap(list(cands[TEXT_COLUMNS].itertuples(index=False, name=None)), plan.max_descriptions, plan.seed)
    desc = pd.DataFrame(bank, columns=TEXT_COLUMNS)
    demb = (embed_texts(model, list(desc["text"]), 128, len(desc) >= 256, desc="descriptions") if len(desc)
            else np.zeros((0, emb.shape[1]), dtype=np.float32))
    manifest = _manifest(plan.checkpoint, plan.sources, plan.max_descriptions, plan.seed)
    manifest["checkpoint_hash"] = plan.checkpoint_hash
    idx = CorpusIndex(embeddings=emb, metadata=meta, desc_embeddings=demb, descriptions=desc, manifest=manifest)
    tmp = out.with_name(out.name + ".writing")
    shutil.rmtree(tmp, ignore_errors=True)
    idx.save(tmp)
    old = out.with_name(out.name + ".old")
    if out.exists():
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    idx._folder = out
    return idx


def _records(data: str | Path | None, sources: Sequence[str], skipped: list[str] | None,
             strict: bool) -> tuple[Iterable[Any], Sequence[tuple[str, str, str]] | None, list[str]]:
    """(record stream, description candidates of a data dir or None, source names)."""
    from clac_core.index.build import records_from_data_dir

    if data is not None:
        records, texts = records_from_data_dir(data)
        return records, texts, [f"data:{data}"]
    if sources:
        from clac_core.corpus.sources import records_from_spec

        parts = (records_from_spec(s, skipped=skipped, strict=strict) for s in sources)
        return itertools.chain.from_iterable(parts), None, list(sources)
    raise CorpusIndexError("give --data DIR or at least one --source SPEC")


def stream_build_from_args(
    *,
    checkpoint: str | Path,
    out: str | Path,
    data: str | Path | None = None,
    sources: Sequence[str] = (),
    max_descriptions: int = 5000,
    seed: int = 0,
    skipped: list[str] | None = None,
    strict: bool = False,
    work: str | Path | None = None,
    chunk_size: int = 4096,
    shard: tuple[int, int] | None = None,
    device: Any = "cpu",
    dist: DistInfo | None = None,
) -> tuple[CorpusIndex | None, dict[str, int]]:
    """``clac index build``: load the checkpoint on ``device``, stream the sources through
    :func:`build_chunks` into ``work`` (default ``<out>.partial``), then (without ``shard``)
    merge into ``out`` and remove ``work``. Returns (the index, or None for a shard; the counts).

    Under ``torchrun`` (``dist`` of more than one process, its process group set up by the
    caller) rank r of W builds shard r/W, all ranks wait at a barrier until every shard is
    done, and rank 0 alone merges; the other ranks return (None, counts).
    """
    from clac_core.models import CLaCModel
    from clac_core.models.fingerprint import checkpoint_hash

    ranks = dist if dist is not None and dist.enabled else None
    shard = shard_for(dist, shard)
    work = Path(work) if work else Path(f"{out}.partial")
    records, texts, srcs = _records(data, sources, skipped, strict)
    plan = BuildPlan(checkpoint=str(checkpoint), checkpoint_hash=checkpoint_hash(checkpoint), sources=tuple(srcs),
                     chunk_size=int(chunk_size), max_descriptions=max_descriptions, seed=seed)
    it = iter(records)
    head = list(itertools.islice(it, plan.chunk_size))  # a bad first chunk fails before the model loads
    records = itertools.chain(head, it)
    merges = ranks.main if ranks is not None else shard is None  # only a merge embeds texts
    model = CLaCModel.from_checkpoint(checkpoint, device=device, load_text_backbone=merges)
    if ranks is not None:
        log.info("rank %d/%d: embedding shard %d/%d into %s on %s",
                 ranks.rank, ranks.world_size, *shard, work, device)
    cache = Path(data) / "cache" if data is not None else None  # pretrained features kept there
    counts = build_chunks(model, records, work, plan, texts=texts, shard=shard or (0, 1), feature_cache=cache)
    if counts["chunks"] == 0:
        raise CorpusIndexError("no usable crystals to index (every row or file was skipped)")
    if ranks is not None:
        log.info("rank %d/%d: shard done (%d chunks embedded, %d kept); waiting for the other ranks",
                 ranks.rank, ranks.world_size, counts["embedded"], counts["kept"])
        barrier(ranks)
        if not ranks.main:
            return None, counts
        log.info("rank 0/%d: every shard done; merging %d chunks into %s",
                 ranks.world_size, counts["chunks"], out)
    elif shard is not None:
        return None, counts
    idx = merge_chunks(model, work, out)
    shutil.rmtree(work, ignore_errors=True)
    return idx, counts
