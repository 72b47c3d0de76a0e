"""The ``statements`` view: short statements of class facts, affirmed or negated.

"This compound is not a metal. It is magnetic. It contains iron, oxygen and lithium." Each
sentence states one computed fact through the class-word table of :mod:`clac_core.vocab.classes`
(metal = no band gap, semiconductor = a gap above 0 and below 4 eV, magnetic = at least
0.05 μB per cell, stable = a negative formation energy, i.e. stable against decomposition into
its elements), pymatgen's oxide typing (oxide / peroxide / superoxide / ozonide / hydroxide, from
O-O and O-H distances) and the element names. Facts that are false are
stated with "not", so the model also learns negation ("is not a metal", "has no net magnetic
moment"), which a frozen text encoder barely separates from the affirmative.

Formula-free, and short enough that many crystals share a text: it is trained on but left out of
the retrieval pools (:data:`clac_core.data.sampling.EVAL_EXCLUDED_VIEWS`). Every sentence is
true of its crystal (``tests/test_text_statements.py`` reads each back against the facts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clac_core.properties import band_gap_of
from clac_core.text import templates as T
from clac_core.text.chemistry import OXIDE_TYPES
from clac_core.text.templates import Picker
from clac_core.vocab.classes import MAGNETIC, METALLIC, SEMICONDUCTOR, STABLE

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.record import CrystalRecord
    from clac_core.text.facts import CrystalFacts

SUBJECTS = ("This material", "This compound", "The crystal", "It", "This solid")
# (fact, true?) -> predicates; every one says exactly the class fact
PREDICATES: dict[tuple[str, bool], tuple[str, ...]] = {
    ("metal", True): ("is a metal", "is metallic", "is a metallic conductor with no band gap"),
    ("metal", False): ("is not a metal", "is non-metallic", "is not metallic", "has a band gap, so it is not a metal"),
    ("semiconductor", True): ("is a semiconductor", "is semiconducting"),
    ("semiconductor", False): ("is not a semiconductor", "is not semiconducting"),
    ("magnetic", True): ("is magnetic", "has a net magnetic moment", "is spin-polarized"),
    ("magnetic", False): ("is not magnetic", "is non-magnetic", "has no net magnetic moment"),
    ("stable", True): ("is stable with respect to its elements", "is stable against decomposition into its elements",
                       "has a negative formation energy"),  # fmt: skip
    ("stable", False): ("is unstable with respect to its elements", "is not stable against decomposition into its elements",
                        "has a positive formation energy"),  # fmt: skip
    ("oxide", True): ("is an oxide", "is an oxide compound"),
    ("oxide", False): ("is not an oxide", "contains no oxygen"),
    ("peroxide", True): ("is a peroxide", "is a peroxide with O-O pairs"),
    ("superoxide", True): ("is a superoxide",),
    ("ozonide", True): ("is an ozonide",),
    ("hydroxide", True): ("is a hydroxide", "contains hydroxide groups"),
}


def class_facts(record: CrystalRecord, f: CrystalFacts, oxide_type: str | None) -> list[tuple[str, bool]]:
    """(fact, true?) pairs known for this crystal, in a fixed order."""
    out: list[tuple[str, bool]] = []
    gap = band_gap_of(record.properties)
    if gap is not None:
        out.append(("metal", METALLIC.contains(gap)))
        out.append(("semiconductor", SEMICONDUCTOR.contains(gap)))
    mag = record.properties.get("total_magnetization")
    if mag is not None:
        out.append(("magnetic", MAGNETIC.contains(abs(float(mag)))))
    fe = record.properties.get("formation_energy_per_atom")
    if fe is not None and len(f.elements) > 1:  # an element's formation energy is 0 by definition
        out.append(("stable", STABLE.contains(float(fe))))
    if "O" not in f.elements:
        out.append(("oxide", False))
    elif oxide_type in OXIDE_TYPES:
        out.append((oxide_type, True))
    return out


def statements_text(record: CrystalRecord, f: CrystalFacts, p: Picker, oxide_type: str | None) -> str:
    """Two to four class statements (shuffled), then (on a coin) the element names."""
    facts = p.shuffled("facts", class_facts(record, f, oxide_type))[: 2 + p.index("n", 3)]
    sentences = []
    first = SUBJECTS if len(f.elements) > 1 else tuple(s for s in SUBJECTS if s != "This compound")  # an element
    for i, (fact, truth) in enumerate(facts):
        subject = p.choice(f"subj{i}", first) if i == 0 else p.choice(f"subj{i}", ("It", "It", "The material"))
        sentences.append(f"{subject} {p.choice(f'pred{i}', PREDICATES[(fact, truth)])}.")
    if p.coin("elements") or not sentences:
        names = [T.element_name(e) for e in p.shuffled("el", f.elements)]
        verb = p.choice("verb", ("contains", "is composed of", "is made of"))
        sentences.append(f"{'It' if sentences else p.choice('subj0', first)} {verb} {T.join_words(names)}.")
    return " ".join(sentences)


# What each stated fact is flipped to for a hard negative: the same fact with the other truth,
# and for oxygen compounds another of pymatgen's exclusive oxide types (a peroxide is not "an
# oxide" in that typing) or "contains no oxygen". "is not an oxide" is never the flip of a
# peroxide/superoxide/ozonide/hydroxide: in plain usage those are oxygen compounds too.
_FLIPS: dict[tuple[str, bool], tuple[tuple[str, bool], ...]] = {
    **{(fact, t): ((fact, not t),) for fact in ("metal", "semiconductor", "magnetic", "stable") for t in (True, False)},
    ("oxide", False): (("oxide", True),),
    ("oxide", True): (("oxide", False), ("peroxide", True), ("hydroxide", True), ("superoxide", True)),
    **{(kind, True): (("oxide", True), *((k, True) for k in ("peroxide", "superoxide", "ozonide", "hydroxide")
                                         if k != kind)) for kind in ("peroxide", "superoxide", "ozonide", "hydroxide")},
}
_SENTENCE_SUBJECTS = tuple(sorted({*SUBJECTS, "It", "The material"}, key=len, reverse=True))
_PREDICATE_FACT = {pred: key for key, preds in PREDICATES.items() for pred in preds}


def negated_statement(text: str) -> str | None:
    """A hard negative for a ``statements`` text: the same text with one class fact made false.

    One sentence whose predicate is in :data:`PREDICATES` (chosen by a hash of the text, so
    the result is reproducible) gets a predicate of a fact that is false of the crystal (see
    ``_FLIPS``); the other sentences stay. "This compound is not a metal. It is magnetic." ->
    "This compound is a metal. It is magnetic." (or "... is not magnetic."). Used to teach the
    model that a statement and its negation differ (NegCLIP-style hard negatives, Yuksekgonul
    et al., ICLR 2023), which a frozen sentence encoder barely separates.

    Returns:
        the negated text, or None when no sentence states a class fact.
    """
    import hashlib

    sentences = [s for s in text.split(". ") if s]
    sentences = [s if s.endswith(".") else s + "." for s in sentences]
    stated: list[tuple[int, str, tuple[str, bool]]] = []
    for i, s in enumerate(sentences):
        subj = next((p for p in _SENTENCE_SUBJECTS if s.startswith(p + " ")), None)
        key = _PREDICATE_FACT.get(s[len(subj) + 1 : -1]) if subj else None
        if key is not None and key in _FLIPS:
            stated.append((i, subj, key))  # type: ignore[arg-type]
    if not stated:
        return None
    h = int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")
    i, subj, key = stated[h % len(stated)]
    flipped = _FLIPS[key][(h >> 8) % len(_FLIPS[key])]
    preds = PREDICATES[flipped]
    sentences[i] = f"{subj} {preds[(h >> 16) % len(preds)]}."
    return " ".join(sentences)
