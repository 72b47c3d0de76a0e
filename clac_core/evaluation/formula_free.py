"""Formula-free retrieval: the comparison with keyword search that measures language rather
than string matching.

Every ``caption`` and ``properties`` text of the evaluated crystals is rewritten with its own
crystal's formula, element symbols and element names removed ("Properties of SrTiO3: ..." ->
"Properties of : ..."). Those rewritten texts replace the originals (also inside each
crystal's bank, so keyword search cannot fall back on the original wording) and serve as the
queries of the usual pooled retrieval, in both directions, for the model and every baseline.

Shape legend: T texts, N crystals, D embedding dims.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from clac_core.vocab.elements import NAMES

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.evaluation.context import EvalContext
    from clac_core.evaluation.dataset import EvalSet
    from clac_core.evaluation.embeddings import Embeddings

FORMULA_FREE_VIEWS = ("caption", "properties")
VIEW_SUFFIX = "_formula_free"




def _elements_of(formula: str) -> list[str]:
    names = NAMES
    return sorted({s for s in re.findall(r"[A-Z][a-z]?", formula) if s in names}, key=len, reverse=True)


def strip_formula(text: str, formula: str) -> str:
    """``text`` without ``formula``, formula-like tokens of its elements, the element symbols
    (as whole tokens, with charges such as Fe3+) and the element names (any case)."""
    els = _elements_of(formula)
    out = re.sub(rf"(?<![A-Za-z0-9]){re.escape(formula)}(?![a-z0-9])", " ", text)
    if els:
        sym = "|".join(re.escape(e) for e in els)
        # formula-like tokens built only from these elements (Sr2TiO4, TiO2, (SO4)3 ...)
        out = re.sub(rf"(?<![A-Za-z])(?:\(?(?:{sym})[\d.]*\)?[\d.]*){{1,}}(?:[\d.]*[+-])?(?![a-z])", " ", out)
        names = "|".join(re.escape(NAMES[e]) for e in els)
        out = re.sub(rf"\b(?:{names})\b", " ", out, flags=re.IGNORECASE)
    out = re.sub(r"\s+([,.;:)])", r"\1", out)
    out = re.sub(r"\(\s*\)", "", out)
    return " ".join(out.split())


def formula_free_set(es: EvalSet, emb: Embeddings) -> tuple[EvalSet, Embeddings, int]:
    """A copy of ``es`` / ``emb`` whose caption and properties texts are formula-free (queries
    from those views only); also returns how many texts were rewritten."""
    texts = list(es.texts)
    views = list(es.views)
    changed = []
    for t, (o, v) in enumerate(zip(es.owner, es.views, strict=True)):
        if v in FORMULA_FREE_VIEWS:
            texts[t] = strip_formula(texts[t], es.formulas[int(o)]) or "material"
            views[t] = v + VIEW_SUFFIX
            changed.append(t)
    idx = np.asarray(changed, dtype=np.int64)
    new = [texts[i] for i in changed]
    text, text_random, text_base = emb.text.copy(), emb.text_random.copy(), emb.text_base.copy()
    if len(idx):
        text[idx] = emb.embed_text(new)
        text_random[idx] = emb.embed_text_random(new)
        text_base[idx] = emb.embed_text_base(new)
    es2 = dataclasses.replace(
        es, texts=texts, views=views, query_views=tuple(v + VIEW_SUFFIX for v in FORMULA_FREE_VIEWS)
    )
    emb2 = dataclasses.replace(emb, text=text, text_random=text_random, text_base=text_base)
    return es2, emb2, len(changed)


def formula_free_section(ctx: EvalContext) -> dict[str, Any]:
    """``clac eval`` section: pooled retrieval on formula-free queries, every system, plus
    ratios of the model to the strongest baseline."""
    from clac_core.evaluation.retrieval import ratios_to_strongest, retrieval_eval
    from clac_core.evaluation.systems import SYSTEMS, make_scorers

    o = ctx.options
    es2, emb2, n = formula_free_set(ctx.es, ctx.emb)
    res = retrieval_eval(es2, make_scorers(es2, emb2, list(SYSTEMS)), o.pools, o.repeats, o.seed)
    model = res.pop("model")
    examples = [t for t, v in zip(es2.texts, es2.views, strict=True) if v.endswith(VIEW_SUFFIX)][:6]
    return {
        "views": list(FORMULA_FREE_VIEWS),
        "n_texts_rewritten": n,
        "examples": examples,
        "model": model,
        "baselines": res,
        "ratios": ratios_to_strongest(model, res),
    }


def announce_formula_free(ctx: EvalContext) -> str:
    return "formula-free retrieval (caption and properties views without formula, symbols, names)"
