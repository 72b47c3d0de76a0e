"""CLaC's zero-shot multiple-choice questions (``results.json["mcq"]``).

The protocol of CLaC's ``evaluation/compute_metrics.py`` (``evaluation_method == "zero-shot
QA"``, github.com/parkyjmit/CLaC): for each test crystal a list of statements, one true; the
answer is the argmax of crystal-statement similarity; accuracy is the fraction answered right
and the random baseline is 1/N. Their statement lists come precomputed in their data (the
true statement always first, and ``torch.argmax`` picks the first of tied scores, so ties
favour the answer); here the choices are shuffled per question (seeded) and a tie counts as
1/(number tied) of a right answer. The statement lists are built from the crystal's facts:

* ``structure``: 7 choices, "This material is {crystal system}." (CLaC's template).
* ``composition``: 10 choices, the true element set and 9 random sets of as many elements
  drawn from the elements of the evaluated crystals.
* ``oxide``: 6 choices, pymatgen's ``oxide_type`` (oxide / peroxide / superoxide / ozonide /
  hydroxide, "None" without oxygen), the labelling CLaC's data comes from (Materials
  Project's ``oxide_type`` field).
* ``metal`` (band gap 0), ``semiconductor`` (0 < gap <= 3 eV): 2 choices, a statement and
  its negation.
* ``stable``: 2 choices; energy above hull 0 where the crystal has one, else formation
  energy < 0 eV/atom (``stable_rule`` counts which rule labelled how many).

Their statement templates beyond the structure one are not in their repository (the lists
live in their data files); ours are below. At most :data:`MCQ_MAX_QUESTIONS` crystals per
task (seeded subset). Anchors: CLaC's own CGCNN + SciBERT numbers in its repository's
history (``metrics.md``), GPT-4 given the formula only (the CLaC paper).

Shape legend: N crystals, S statements, D embedding dims, K choices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clac_core.evaluation.context import EvalContext
from clac_core.evaluation.metrics import l2_normalize
from clac_core.symmetry import CRYSTAL_SYSTEMS
from clac_core.text.chemistry import oxide_type_of

MCQ_MAX_QUESTIONS = 2000  # crystals per task (seeded subset); CLaC scored its whole test split
SEMICONDUCTOR_MAX_GAP = 3.0  # eV, "semiconductor" = 0 < band gap <= this
COMPOSITION_CHOICES = 10
OXIDE_STATEMENTS = {
    "None": "This material is not an oxide.",
    "oxide": "This material is an oxide.",
    "peroxide": "This material is a peroxide.",
    "superoxide": "This material is a superoxide.",
    "ozonide": "This material is an ozonide.",
    "hydroxide": "This material is a hydroxide.",
}
BINARY_STATEMENTS = {
    "metal": {True: "This material is a metal.", False: "This material is not a metal."},
    "semiconductor": {
        True: "This material is a semiconductor.",
        False: "This material is not a semiconductor.",
    },
    "stable": {True: "This material is stable.", False: "This material is unstable."},
}
ANCHORS = {  # task -> {reference: accuracy}
    "composition": {"clac_cgcnn_scibert": 0.981},
    "structure": {"clac_cgcnn_scibert": 0.261, "gpt4_formula_only": 0.12},
    "oxide": {"clac_cgcnn_scibert": 0.876},
    "metal": {"clac_cgcnn_scibert": 0.574},
    "semiconductor": {"clac_cgcnn_scibert": 0.474},
    "stable": {"clac_cgcnn_scibert": 0.472, "gpt4_formula_only": 0.44},
}
TASKS = ("structure", "composition", "oxide", "metal", "semiconductor", "stable")


@dataclass
class Question:
    """One multiple-choice question: ``choices`` (K statements, shuffled) and the right one's index."""

    crystal: int
    choices: list[str]
    answer: int
    label: str


def structure_statement(system: str) -> str:
    return f"This material is {system}."


def composition_statement(symbols: Sequence[str]) -> str:
    """ "This material is composed of iron, lithium and oxygen." (names sorted: order tells nothing)."""
    from pymatgen.core import Element

    names = sorted(Element(s).long_name.lower() for s in symbols)
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"This material is composed of {listed}."


def stability_label(props: dict[str, float]) -> tuple[bool | None, str | None]:
    """(stable?, rule): energy above hull 0 where known, else formation energy < 0."""
    for key in ("energy_above_hull", "e_above_hull"):
        if props.get(key) is not None:
            return float(props[key]) <= 1e-6, "energy_above_hull"
    fe = props.get("formation_energy_per_atom")
    return (None, None) if fe is None else (float(fe) < 0.0, "formation_energy_sign")


def _shuffled(true: str, others: Sequence[str], rng: np.random.Generator) -> tuple[list[str], int]:
    choices = [true, *others]
    order = rng.permutation(len(choices))
    return [choices[k] for k in order], int(np.flatnonzero(order == 0)[0])


def _random_sets(
    true: frozenset[str], pool: list[str], rng: np.random.Generator, n: int
) -> list[frozenset[str]]:
    """``n`` distinct element sets of ``len(true)`` elements from ``pool``, none equal to ``true``."""
    out: list[frozenset[str]] = []
    for _ in range(200 * n):
        if len(out) == n:
            break
        cand = frozenset(rng.choice(pool, size=len(true), replace=False).tolist())
        if cand != true and cand not in out:
            out.append(cand)
    return out


def task_labels(es: Any, task: str) -> list[Any]:
    """Per crystal of ``es`` (an EvalSet) the true class of ``task`` (None = unknown, no question)."""
    facts, props = es.facts, es.properties
    gaps = [f.get("band_gap") for f in facts]
    if task == "structure":
        return [
            f.get("crystal_system") if f.get("crystal_system") in CRYSTAL_SYSTEMS else None for f in facts
        ]
    if task == "composition":
        return [frozenset(f.get("elements") or []) or None for f in facts]
    if task == "oxide":
        return [oxide_type_of(s) for s in es.structures]
    if task == "metal":
        return [None if g is None else bool(g <= 0.0) for g in gaps]
    if task == "semiconductor":
        return [None if g is None else bool(0.0 < g <= SEMICONDUCTOR_MAX_GAP) for g in gaps]
    if task == "stable":
        return [stability_label(p)[0] for p in props]
    raise KeyError(f"unknown multiple-choice task {task!r}; known: {list(TASKS)}")


def build_questions(es: Any, task: str, *, seed: int, limit: int = MCQ_MAX_QUESTIONS) -> list[Question]:
    """The questions of ``task`` for the labelled crystals of ``es`` (at most ``limit``, seeded)."""
    labels = task_labels(es, task)
    rows = [i for i, v in enumerate(labels) if v is not None]
    rng = np.random.default_rng([seed, 31, TASKS.index(task)])
    if len(rows) > limit:
        rows = sorted(rng.choice(rows, size=limit, replace=False).tolist())
    pool = sorted({e for f in es.facts for e in (f.get("elements") or [])})
    out = []
    for i in rows:
        y, q_rng = labels[i], np.random.default_rng([seed, 37, TASKS.index(task), i])
        if task == "structure":
            true, others = structure_statement(y), [structure_statement(s) for s in CRYSTAL_SYSTEMS if s != y]
        elif task == "composition":
            sets = _random_sets(y, pool, q_rng, COMPOSITION_CHOICES - 1) if len(pool) > len(y) else []
            if not sets:
                continue
            true, others = composition_statement(sorted(y)), [composition_statement(sorted(s)) for s in sets]
        elif task == "oxide":
            true, others = OXIDE_STATEMENTS[y], [t for k, t in OXIDE_STATEMENTS.items() if k != y]
        else:
            true, others = BINARY_STATEMENTS[task][y], [BINARY_STATEMENTS[task][not y]]
        choices, answer = _shuffled(true, others, q_rng)
        out.append(Question(i, choices, answer, "-".join(sorted(y)) if task == "composition" else str(y)))
    return out


def answer_credit(
    crystal: np.ndarray, statements: np.ndarray, questions: Sequence[Question], index: dict[str, int]
) -> np.ndarray:
    """Per question, 1 if the right statement scores highest, 1/t if it ties with t-1 others,
    else 0. ``crystal`` (N, D) and ``statements`` (S, D) normalized; ``index`` statement -> row."""
    credit = np.zeros(len(questions))
    for q, qu in enumerate(questions):
        sims = statements[[index[c] for c in qu.choices]] @ crystal[qu.crystal]  # (K,)
        top = np.flatnonzero(sims >= sims.max() - 1e-7)
        credit[q] = (1.0 / top.size) if qu.answer in top else 0.0
    return credit


def score_task(
    questions: Sequence[Question],
    systems: dict[str, tuple[np.ndarray, Callable[[Sequence[str]], np.ndarray]]],
) -> dict[str, Any]:
    """Accuracy of each system (name -> (crystal embeddings, text embedder)) beside 1/N and the
    majority answer."""
    statements = sorted({c for q in questions for c in q.choices})
    index = {s: k for k, s in enumerate(statements)}
    res: dict[str, Any] = {"n": len(questions), "n_choices": sorted({len(q.choices) for q in questions})}
    for name, (crystal, embed) in systems.items():
        credit = answer_credit(crystal, l2_normalize(embed(statements)), questions, index)
        res[name] = {"accuracy": float(credit.mean())}
    res["accuracy"] = res.pop("model")["accuracy"]
    res["random_baseline"] = float(np.mean([1.0 / len(q.choices) for q in questions]))
    counts: dict[str, int] = {}
    for q in questions:
        counts[q.label] = counts.get(q.label, 0) + 1
    res["majority"] = {
        "class": max(counts, key=counts.get),
        "accuracy": max(counts.values()) / len(questions),
    }
    if len(counts) <= len(CRYSTAL_SYSTEMS):
        res["classes"] = dict(sorted(counts.items()))
    return res


def mcq_eval(es: Any, emb: Any, *, seed: int, limit: int = MCQ_MAX_QUESTIONS) -> dict[str, Any]:
    """Every task of :data:`TASKS` with the model and its random-init twin."""
    systems = {
        "model": (emb.crystal, emb.embed_text),
        "random_init": (emb.crystal_random, emb.embed_text_random),
    }
    out: dict[str, Any] = {}
    for task in TASKS:
        questions = build_questions(es, task, seed=seed, limit=limit)
        if len(questions) < 2:
            out[task] = {"skipped": f"{len(questions)} crystals with a known answer"}
            continue
        out[task] = {**score_task(questions, systems), "anchors": ANCHORS[task]}
    rules: dict[str, int] = {}
    for p in es.properties:
        rule = stability_label(p)[1]
        if rule:
            rules[rule] = rules.get(rule, 0) + 1
    if "stable" in out:
        out["stable"]["stable_rule"] = rules
    out["notes"] = (
        "argmax of crystal-statement cosine over shuffled choices (ties: 1/t credit); random_baseline "
        f"= mean 1/N; semiconductor: 0 < gap <= {SEMICONDUCTOR_MAX_GAP} eV; stable: energy above hull 0 "
        "where known, else formation energy < 0; anchors: CLaC CGCNN+SciBERT (its repository's "
        f"metrics.md), GPT-4 formula only (CLaC paper); at most {limit} crystals per task"
    )
    return out


def mcq_section(ctx: EvalContext) -> dict[str, Any]:
    """``results.json["mcq"]``."""
    return mcq_eval(ctx.es, ctx.emb, seed=ctx.options.seed)


def announce_mcq(ctx: EvalContext) -> str:
    return f"multiple-choice questions ({', '.join(TASKS)})"


def mcq_markdown(results: dict[str, Any]) -> list[str]:
    """The ``mcq`` block of results.md: accuracy beside 1/N, the majority answer and the anchors."""
    lines = [
        "## Multiple-choice questions (CLaC protocol)",
        "",
        "| task | n | choices | model | random-init | 1/N | majority | CLaC CGCNN+SciBERT | GPT-4 (formula) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task in TASKS:
        r = results["mcq"].get(task)
        if r is None:
            continue
        if "skipped" in r:
            lines.append(f"| {task} | – | skipped: {r['skipped']} | | | | | | |")
            continue
        a = r["anchors"]
        cells = [
            str(r["n"]),
            "/".join(str(k) for k in r["n_choices"]),
            f"{r['accuracy']:.3f}",
            f"{r['random_init']['accuracy']:.3f}",
            f"{r['random_baseline']:.3f}",
            f"{r['majority']['accuracy']:.3f}",
            f"{a['clac_cgcnn_scibert']:.3f}",
            f"{a['gpt4_formula_only']:.2f}" if "gpt4_formula_only" in a else "–",
        ]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines += ["", results["mcq"].get("notes", "")]
    return lines
