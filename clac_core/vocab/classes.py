"""Class words for properties: the one table of what "narrow gap", "magnetic", "dense" mean.

Each :class:`ClassWord` maps a word to an interval of one canonical property (units of
:mod:`clac_core.properties`). The text writers choose a word only when the crystal's value lies
in its interval (:meth:`ClassWord.contains`, :func:`word_for`); the quantity reader turns the
word back into the same interval (:data:`READ_ORDER`); the eval's relevance rules and the app's
"Understood" line use the same numbers. So the model is trained on the meaning it is queried
with.

The thresholds follow common materials usage for DFT (PBE) values, which underestimate gaps:
metallic = no gap; semiconductor = a gap below 4 eV; narrow gap below 1 eV; wide gap from 3 eV;
insulator from 4 eV; magnetic = a net moment of at least 0.05 μB per cell (MP-style numerical
noise stays below); dense from 7 g/cm³ (steels are ~7.9), very dense from 9; lightweight below
3 g/cm³ (aluminium is 2.7); strongly bound below -1.5 eV/atom; unstable at or above 0 eV/atom.

Elastic words (VRH moduli in GPa, as in the corpus): stiff = bulk modulus >= 150 GPa, soft
< 50 GPa, moderately stiff in between (the property writers' words); incompressible = bulk
modulus >= 200 GPa (the usual "low-compressibility" range: Al2O3 ~250, ReB2 ~360, diamond
~440); hard = shear modulus >= 100 GPa (Teter 1998: Vickers hardness ~0.15 G, so about 15 GPa,
the range of hard ceramics such as Al2O3 and SiC; a "hard magnet" is a magnetic word, not this).
The elastic words are read by the search only (:data:`MODULUS_READ_ORDER`): they are not in
:data:`READ_ORDER`, so the model's number-aware text features do not change with them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Reader-side margin for an open bound at a value a property often takes exactly (band gap 0):
# the soft features and re-rank see "non-metallic" as >= 0.05 eV so a metal (0 eV) is outside.
OPEN_MARGIN = {"band_gap": 0.05, "formation_energy_per_atom": 0.0, "density": 0.0, "total_magnetization": 0.0}


@dataclass(frozen=True)
class ClassWord:
    """A class word and its property interval.

    Attributes:
        name: the canonical wording ("narrow band gap"), shown on the "Understood" line.
        prop: canonical property name ("band_gap").
        lo, hi: the interval, in the property's canonical unit.
        lo_open, hi_open: whether the bound itself is outside (a narrow gap is > 0 and < 1 eV).
        pattern: regular expression (case-insensitive) the quantity reader matches; "" for words
            the writers use but the reader does not read as a class.
    """

    name: str
    prop: str
    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    pattern: str = ""

    def contains(self, value: float) -> bool:
        """Whether ``value`` has this class (NaN never does)."""
        v = float(value)
        if math.isnan(v):
            return False
        above = v > self.lo if self.lo_open else v >= self.lo
        below = v < self.hi if self.hi_open else v <= self.hi
        return above and below

    def reader_interval(self) -> tuple[float, float]:
        """(lo, hi) as the soft reader uses it: an open bound moved inward by :data:`OPEN_MARGIN`."""
        m = OPEN_MARGIN.get(self.prop, 0.0)
        return (self.lo + m if self.lo_open else self.lo), (self.hi - m if self.hi_open and m else self.hi)


# said wherever a band-gap constraint is shown (the "Understood" line, the docs)
GAP_NOTE = "band gaps are DFT (PBE) values, which underestimate measured gaps"

_INF = math.inf  # open-ended classes ("wide gap": 3 eV and up)
_NOT_NON = r"(?<!non-)(?<!non)(?<!non )"
_METAL_NOUN = (
    # "metal" as a noun means metallic ("a metal", "non-magnetic metal", "a metal with ..."),
    # but not as an element family or adjective ("transition metal oxide", "metal phosphate")
    r"(?<!transition )(?<!alkali )(?<!earth )(?<!noble )(?<!rare-earth )\bmetals?\b"
    r"(?=\s*(?:$|[,.;:)!?]|(?:with|that|which|and|or|for|in|having|whose|of|like|\()\b))"
)

NO_GAP = ClassWord(
    "no band gap", "band_gap", 0.0, 0.0,
    pattern=r"no\s+(?:band\s+)?gap|zero[\s-](?:band[\s-])?gap|gapless|without\s+a\s+(?:band\s+)?gap",
)
NON_METALLIC = ClassWord(
    "non-metallic", "band_gap", 0.0, _INF, lo_open=True,
    pattern=r"\bnon[\s-]?metallic\b|\bnon[\s-]?conducting\b",
)
METALLIC = ClassWord(
    "metallic", "band_gap", 0.0, 0.0,
    pattern=rf"{_NOT_NON}\bmetallic\b|{_METAL_NOUN}|(?<!semi)\bconductors?\b|\bconducting\b|\bsemimetal",
)
PHOTOVOLTAIC = ClassWord(  # single-junction optimum region (Shockley-Queisser); see vocab.applications
    "photovoltaic absorber", "band_gap", 1.1, 1.7,
    pattern=r"\bphotovoltaic|\bsolar[\s-](?:cell\s+)?absorb|\bsolar[\s-]cell",
)
NARROW_GAP = ClassWord(
    "narrow band gap", "band_gap", 0.0, 1.0, lo_open=True, hi_open=True,
    pattern=r"narrow[\s-](?:band[\s-])?gap|small\s+(?:band\s+)?gap",
)
MODERATE_GAP = ClassWord(
    "moderate band gap", "band_gap", 1.0, 3.0, hi_open=True, pattern=r"moderate[\s-](?:band[\s-])?gap"
)
WIDE_GAP = ClassWord(
    "wide band gap", "band_gap", 3.0, _INF,
    pattern=r"wide[\s-](?:band[\s-])?gap|large\s+(?:band\s+)?gap|ultra[\s-]?wide",
)
INSULATOR = ClassWord(
    "insulator", "band_gap", 4.0, _INF, pattern=r"\binsulat(?:or|ors|ing)\b|\bdielectric\b"
)
SEMICONDUCTOR = ClassWord(
    "semiconductor", "band_gap", 0.0, 4.0, lo_open=True, hi_open=True,
    pattern=r"\bsemiconduct(?:or|ors|ing)\b",
)
NON_MAGNETIC = ClassWord(
    "non-magnetic", "total_magnetization", 0.0, 0.05, hi_open=True,
    pattern=r"\bnon[\s-]?magnetic\b|\bdiamagnetic\b|\bno\s+(?:net\s+)?(?:magnetic\s+)?moment|\bunpolari[sz]ed",
)
MAGNETIC = ClassWord(
    "magnetic", "total_magnetization", 0.05, _INF,
    pattern=rf"{_NOT_NON}\b(?:ferro|ferri)?magnetic\b|\bmagnet\b|spin[\s-]polari[sz]ed",
)
VERY_DENSE = ClassWord("very dense", "density", 9.0, _INF, pattern=r"\bvery\s+dense\b")
DENSE = ClassWord("dense", "density", 7.0, _INF, pattern=r"\bdense\b|\bheavy\b|\bhigh[\s-]density\b")
LIGHTWEIGHT = ClassWord(
    "lightweight", "density", 0.0, 3.0, hi_open=True,
    pattern=r"\blight[\s-]?weight\b|\blow[\s-]density\b|\blight\s+(?:material|compound|solid|crystal)s?\b",
)
UNSTABLE = ClassWord(
    "unstable", "formation_energy_per_atom", 0.0, _INF,
    pattern=r"\bunstable\b|positive\s+formation\s+energy|energetically\s+unfavou?rable",
)
STRONGLY_BOUND = ClassWord(
    "strongly bound", "formation_energy_per_atom", -_INF, -1.5, hi_open=True,
    pattern=r"\bstrongly\s+bound\b|very\s+stable|highly\s+stable",
)
# "stable" in a query (read by the query package, not a feature): on or near the corpus's convex
# hull where the index has its energy above the hull (clac_core.index.hull), else a negative
# formation energy
STABLE = ClassWord("stable", "formation_energy_per_atom", -_INF, 0.0, hi_open=True, pattern=r"(?<!un)\bstable\b|\bstability\b")
# "on or near the hull": within kT at room temperature (25.7 meV/atom) of it, a common threshold
# for crystals that can be made (thermal and DFT errors of this size are routine)
NEAR_HULL = 0.025  # eV/atom

# elastic words (search only; see the module docstring)
_NOT_MAGNET = r"(?![\s-]*(?:magnet|ferro|x-?ray|mode|matter|phonon))"
INCOMPRESSIBLE = ClassWord(
    "incompressible", "bulk_modulus", 200.0, _INF,
    pattern=r"\b(?:ultra[\s-]?)?incompressib(?:le|ility)\b|\blow[\s-]compressibility\b",
)
STIFF = ClassWord("stiff", "bulk_modulus", 150.0, _INF, pattern=r"(?<!moderately )\bstiff(?:est|er)?\b|\brigid\b")
MODERATELY_STIFF = ClassWord(
    "moderately stiff", "bulk_modulus", 50.0, 150.0, hi_open=True, pattern=r"\bmoderately\s+stiff\b"
)
SOFT = ClassWord(
    "soft", "bulk_modulus", -_INF, 50.0, hi_open=True,
    pattern=r"\b(?:soft|compliant|highly\s+compressible)\b" + _NOT_MAGNET,
)
HARD = ClassWord(
    "hard", "shear_modulus", 100.0, _INF, pattern=r"\b(?:super[\s-]?)?hard(?:est|er)?\b" + _NOT_MAGNET
)
# the search's order for elastic words (first per property wins; specific before general)
MODULUS_READ_ORDER: tuple[ClassWord, ...] = (INCOMPRESSIBLE, MODERATELY_STIFF, STIFF, SOFT, HARD)
# the writers' bulk-modulus ladder (property_views): a bulk modulus has exactly one word
BULK_LADDER: tuple[ClassWord, ...] = (STIFF, SOFT, MODERATELY_STIFF)

# The reader's order: the first word found per property wins ("narrow-gap semiconductor" is a
# narrow gap, not any semiconductor), so specific words come before general ones.
READ_ORDER: tuple[ClassWord, ...] = (
    NO_GAP, NON_METALLIC, METALLIC, PHOTOVOLTAIC, NARROW_GAP, MODERATE_GAP, WIDE_GAP, INSULATOR, SEMICONDUCTOR,
    NON_MAGNETIC, MAGNETIC, VERY_DENSE, DENSE, LIGHTWEIGHT, UNSTABLE, STRONGLY_BOUND,
)
CLASS_WORDS: dict[str, ClassWord] = {w.name: w for w in (*READ_ORDER, STABLE, *MODULUS_READ_ORDER)}
COMPILED: tuple[tuple[re.Pattern[str], ClassWord], ...] = tuple(
    (re.compile(w.pattern, re.IGNORECASE), w) for w in READ_ORDER
)

# The writers' band-gap ladder: (word, class) from the smallest gap up; a gap has exactly one.
GAP_LADDER: tuple[tuple[str, ClassWord], ...] = (
    ("metallic", METALLIC),
    ("narrow-gap semiconductor", NARROW_GAP),
    ("semiconductor", ClassWord("semiconductor (1-3 eV)", "band_gap", 1.0, 3.0, hi_open=True)),
    ("wide-gap semiconductor", ClassWord("wide-gap semiconductor", "band_gap", 3.0, 4.0, hi_open=True)),
    ("wide-gap insulator", INSULATOR),
)


def gap_word(gap: float) -> str:
    """The writers' one word for a band gap: "metallic", "narrow-gap semiconductor",
    "semiconductor", "wide-gap semiconductor" or "wide-gap insulator"."""
    for word, cls in GAP_LADDER:
        if cls.contains(gap):
            return word
    return GAP_LADDER[-1][0]  # above the grid: still an insulator


def word_for(prop: str, value: float, candidates: tuple[ClassWord, ...]) -> ClassWord | None:
    """The first of ``candidates`` (all of ``prop``) that ``value`` has, or None."""
    for w in candidates:
        if w.prop != prop:
            raise ValueError(f"{w.name!r} is a {w.prop} word, not {prop}")
        if w.contains(value):
            return w
    return None
