"""Quantities stated in a text -> typed, number-aware features (the text side of CLaC's
property language).

A frozen sentence encoder barely tells "1 eV" from "3 eV" (mean-pooled MiniLM features of
"material with bandgap around {v} eV" have pairwise cosine 0.93-0.96, see
``../shared/STACK_NOTES.md``). This module reads what a text *says* about a property (a value,
an approximate value, a range or a bound, or a qualitative class such as "metallic") and writes
it as a soft membership vector over a fixed grid per property. The vectors are appended to the
pooled text features before the projection head (``TextEncoderConfig.quantities``), so the
model sees the number directly, in the spirit of number-aware encoders such as xVal
(Golkar et al. 2023) and of quantity extraction with units.

Everything here is plain Python + numpy, no model: :func:`parse_constraints` is also what the
app's property-aware search uses to say what it understood.

Shape legend: Q = :data:`FEATURE_DIM` feature columns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from clac_core.vocab.classes import COMPILED as CLASS_PATTERNS


@dataclass(frozen=True)
class Grid:
    """Evenly spaced grid of one property's values (unit as in :mod:`clac_core.properties`)."""

    lo: float
    hi: float
    n: int

    @property
    def step(self) -> float:
        return (self.hi - self.lo) / (self.n - 1)

    def centers(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, self.n)


# Properties the text features cover, with their grids. Order fixes the feature layout.
GRIDS: dict[str, Grid] = {
    "band_gap": Grid(0.0, 8.0, 33),  # eV, step 0.25
    "formation_energy_per_atom": Grid(-4.5, 2.0, 27),  # eV/atom, step 0.25
    "density": Grid(0.0, 24.0, 25),  # g/cm³, step 1
    "total_magnetization": Grid(0.0, 20.0, 21),  # μB per cell, step 1
}
FEATURE_DIM = sum(1 + g.n for g in GRIDS.values())  # presence flag + grid per property
LABELS = {
    "band_gap": ("band gap", "eV"),
    "formation_energy_per_atom": ("formation energy", "eV/atom"),
    "density": ("density", "g/cm³"),
    "total_magnetization": ("magnetization", "μB"),
}
# properties the search reads but the text features do not (clac_core.query.moduli): labels only
SEARCH_ONLY_LABELS = {
    "bulk_modulus": ("bulk modulus", "GPa"),
    "shear_modulus": ("shear modulus", "GPa"),
    "poisson_ratio": ("Poisson's ratio", ""),
}


@dataclass(frozen=True)
class Constraint:
    """What a text says about one property: the value lies in ``[lo, hi]``.

    ``kind`` is how it was said: "value" (a plain number), "approx" (around / about / ~),
    "range" (between a and b), "above", "below" or "class" (a word such as "metallic").
    """

    prop: str
    lo: float
    hi: float
    kind: str
    text: str  # the words it was read from

    def describe(self) -> str:
        """Plain words for the UI: "band gap ≈ 2 eV", "band gap > 3 eV", "metallic"."""
        return self._describe().replace(" )", ")").rstrip()  # unitless: no stray space

    def _describe(self) -> str:
        label, unit = LABELS.get(self.prop) or SEARCH_ONLY_LABELS[self.prop]
        fmt = lambda x: f"{x:.3g}"  # noqa: E731
        if self.kind == "class":
            if self.lo == self.hi:
                rng = f"= {fmt(self.lo)}"
            elif math.isinf(self.hi):
                rng = f"≥ {fmt(self.lo)}"
            elif math.isinf(self.lo):
                rng = f"< {fmt(self.hi)}"
            else:
                rng = f"{fmt(self.lo)}–{fmt(self.hi)}"
            return f"{self.text} ({label} {rng} {unit})"
        if self.kind == "above":
            return f"{label} > {fmt(self.lo)} {unit}"
        if self.kind == "below":
            return f"{label} < {fmt(self.hi)} {unit}"
        if self.kind == "range":
            rng = f"= {fmt(self.lo)}" if self.lo == self.hi else f"{fmt(self.lo)}–{fmt(self.hi)}"
            return f"{label} {rng} {unit}"
        return f"{label} ≈ {fmt(0.5 * (self.lo + self.hi))} {unit}"

    @property
    def target(self) -> float:
        """One representative value (interval centre; for open bounds the bound itself)."""
        g = GRIDS[self.prop]
        if self.kind == "above":
            return self.lo
        if self.kind == "below":
            return max(self.hi, g.lo) if self.prop != "formation_energy_per_atom" else self.hi
        # an open-ended class ("wide gap": 3 eV and up) is centred within the grid
        lo = self.lo if math.isfinite(self.lo) else g.lo
        hi = self.hi if math.isfinite(self.hi) else g.hi
        return 0.5 * (lo + hi)


# Texts are read up to this many characters (the training texts are at most 636): the time a
# pathological input (thousands of digits) costs stays bounded.
MAX_TEXT_CHARS = 2000

# --------------------------------------------------------------------------------------
# patterns
_NUM = r"[-−–]?\s?\d+(?:[.,]\d+)?"
_UNITS: list[tuple[str, str, str]] = [  # (regex, unit class, the unit as pint spells it)
    (r"m\s?ev\s*(?:/|per)\s*(?:atom|at\.?)\b|mev\s*atom(?:-1|⁻¹)", "ev_atom", "meV"),
    (r"ev\s*(?:/|per)\s*(?:atom|at\.?)\b|ev\s*atom(?:-1|⁻¹)|ev\s*·\s*atom⁻¹", "ev_atom", "eV"),
    (r"kj\s*(?:/|per)\s*mol(?:e|\b)|kj\s*·?\s*mol(?:-1|⁻¹)", "ev_atom", "kJ/mol"),
    (r"kcal\s*(?:/|per)\s*mol(?:e|\b)|kcal\s*·?\s*mol(?:-1|⁻¹)", "ev_atom", "kcal/mol"),
    (r"m\s?ev\b", "ev", "meV"),
    (r"e\s?v\b|electron[- ]?volts?\b", "ev", "eV"),
    (
        r"g\s*/\s*cm\s*(?:\^?3|³)|g\s*cm\s*(?:\^?-3|⁻³)|g\s*/\s*cc\b|grams?\s+per\s+cubic\s+cent[a-z]*"
        r"|g\s*/\s*ml\b",
        "density",
        "g/cm**3",
    ),
    (r"kg\s*/\s*m\s*(?:\^?3|³)|kg\s*m\s*(?:\^?-3|⁻³)", "density", "kg/m**3"),
    (r"[μµu]\s?_?b\b|mu_?b\b|bohr\s+magnetons?", "mag", "bohr_magneton"),
]
# the canonical unit of each unit class (the grids' units); other units are converted by pint
CANONICAL_UNITS = {"ev": "eV", "ev_atom": "eV", "density": "g/cm**3", "mag": "bohr_magneton"}
_UNIT_RE = "|".join(f"(?:{u})" for u, _, _ in _UNITS)
_ABOVE = (
    r"above|over|greater\s+than|more\s+than|larger\s+than|higher\s+than|bigger\s+than|exceeding|in\s+excess\s+of"
    r"|at\s+least|no\s+less\s+than|not\s+less\s+than|beyond|exceeds?|>=|≥|>|⩾"
)
_BELOW = (
    r"below|under|less\s+than|smaller\s+than|lower\s+than|at\s+most|up\s+to|no\s+more\s+than"
    r"|not\s+exceeding|not\s+more\s+than|<=|≤|<|⩽|within"
)
_APPROX = (
    r"around|about|approximately|approx\.?|roughly|near(?:ly)?|close\s+to|some|circa|ca\.|~|≈|≃|∼|~=|of\s+about"
    r"|of\s+around|on\s+the\s+order\s+of"
)
_Q = re.compile(
    rf"(?:(?P<between>between|from|in\s+the\s+range(?:\s+of)?|range\s+of)\s+)?"
    rf"(?:(?P<cmp_above>{_ABOVE})\s*|(?P<cmp_below>{_BELOW})\s*|(?P<approx>{_APPROX})\s*)?"
    rf"(?<![\d.,])(?P<a>{_NUM})\s*(?P<unit_a>{_UNIT_RE})?"
    rf"(?:\s*(?:-|–|—|to|and|\.\.)\s*(?P<b>{_NUM})|\s*(?:±|\+/-|\+-)\s*(?P<pm>{_NUM}))?"
    rf"\s*(?P<unit>{_UNIT_RE})"
    rf"(?P<post>\s*(?:or\s+(?:more|higher|above|greater|larger)|or\s+(?:less|lower|below|smaller)|\+))?",
    re.IGNORECASE,
)
# which property a number belongs to, read from the words before it (nearest keyword wins)
_KEYWORDS: list[tuple[str, str]] = [
    (r"band[\s-]?gaps?|\bgaps?\b|\be_?g\b|\bgapped\b|optical\s+gap", "band_gap"),
    (r"formation|formed|heat\s+of|enthalp|\bδ?h_?f\b|stability", "formation_energy_per_atom"),
    (r"fermi", "_ignore"),
    (r"total\s+energy|dft\s+energy|energy\s+per\s+atom|cohesive|above\s+(?:the\s+)?hull|hull", "_ignore"),
    (r"densit|\bρ\b|\brho\b|heavy|light", "density"),
    (r"magneti|moment|spin", "total_magnetization"),
    (r"modul|\bgpa\b", "_ignore"),
]
_KEYWORDS_RE = [(re.compile(r, re.IGNORECASE), p) for r, p in _KEYWORDS]


def _num(s: str) -> float:
    s = s.replace("−", "-").replace("–", "-").replace(" ", "").replace(",", ".")
    return float(s)


def _unit_class(u: str) -> tuple[str, str]:
    """(unit class, pint unit) of a unit as written."""
    for rx, cls, unit in _UNITS:
        if re.fullmatch(rx, u.strip(), re.IGNORECASE):
            return cls, unit
    return "", ""  # pragma: no cover - _Q only matches listed units


@lru_cache(maxsize=1)
def _units() -> Any:
    """The pint unit registry (built once, on the first non-canonical unit: about 1 s)."""
    import pint

    return pint.UnitRegistry()


def to_canonical(value: float, unit: str, unit_class: str) -> float:
    """``value`` in ``unit`` (as pint spells it) -> the canonical unit of ``unit_class``.

    Canonical units pass through untouched (bit for bit); others are converted by pint, molar
    energies (kJ/mol, kcal/mol) per particle, i.e. per atom for formation energies.
    """
    target = CANONICAL_UNITS[unit_class]
    if unit == target:
        return value
    ureg = _units()
    q = ureg.Quantity(value, unit)
    if q.check("[energy] / [substance]"):
        q = q / ureg.avogadro_constant
    return float(q.to(target).magnitude)


def _owner(text: str, start: int, unit_cls: str) -> str | None:
    """Property a quantity at ``text[start:]`` belongs to, from its unit and the words before it."""
    left = text[max(0, start - 60) : start]
    left = re.split(r"[;.!?]\s|,\s(?=[a-z]+\s(?:of|is|at)\b)", left)[-1]  # stay in the clause
    best, best_end = None, -1
    for rx, prop in _KEYWORDS_RE:
        for m in rx.finditer(left):
            if m.end() > best_end:
                best, best_end = prop, m.end()
    if unit_cls == "density":
        return "density"
    if unit_cls == "mag":
        return "total_magnetization"
    if unit_cls == "ev_atom":
        if best in ("_ignore",):
            return None
        return "formation_energy_per_atom"
    # plain eV
    if best in ("band_gap", "formation_energy_per_atom"):
        return best
    if best is None and re.search(r"gap|\be_?g\b", text, re.IGNORECASE):
        return "band_gap"
    if best is None and re.search(r"formation", text, re.IGNORECASE):
        return "formation_energy_per_atom"
    return None


def parse_constraints(text: str) -> list[Constraint]:
    """Every property statement in ``text``: numbers with units first, then class words
    for properties that no number covered. At most one constraint per property (the first).
    """
    t = " ".join(str(text)[:MAX_TEXT_CHARS].split())
    found: dict[str, Constraint] = {}
    for m in _Q.finditer(t):
        cls, unit = _unit_class(m.group("unit"))
        prop = _owner(t, m.start(), cls)
        if prop is None or prop in found:
            continue
        g = GRIDS[prop]
        a = to_canonical(_num(m.group("a")), unit, cls)
        b = to_canonical(_num(m.group("b")), unit, cls) if m.group("b") else None
        post = (m.group("post") or "").strip().lower()
        words = m.group(0).strip()
        if m.group("pm"):  # "2.0 ± 0.2 eV"
            pm = abs(to_canonical(_num(m.group("pm")), unit, cls))
            b, a = a + pm, a - pm
        if b is not None:
            lo, hi = min(a, b), max(a, b)
            c = Constraint(prop, lo, hi, "range", words)
        elif m.group("cmp_above") or post.startswith("or m") or post.startswith("or h") or post in (
            "or above",
            "or greater",
            "or larger",
            "+",
        ):
            c = Constraint(prop, a, g.hi, "above", words)
        elif m.group("cmp_below"):
            lo = g.lo if prop != "band_gap" else 0.0
            c = Constraint(prop, lo, a, "below", words)
        elif post.startswith("or l") or post.startswith("or b") or post.startswith("or s"):
            c = Constraint(prop, g.lo, a, "below", words)
        elif m.group("approx"):
            tol = max(g.step, 0.15 * abs(a))
            c = Constraint(prop, a - tol, a + tol, "approx", words)
        else:
            tol = 0.5 * g.step
            c = Constraint(prop, a - tol, a + tol, "value", words)
        found[prop] = c
    for c in class_constraints(t):
        found.setdefault(c.prop, c)
    return list(found.values())


def class_constraints(text: str) -> list[Constraint]:
    """The class words of ``text`` ("metallic", "wide band gap", "non-magnetic"), at most one
    per property (the first in the class-word table's reading order,
    :data:`clac_core.vocab.classes.READ_ORDER`), whether or not a number covers it too."""
    t = " ".join(str(text)[:MAX_TEXT_CHARS].split())
    found: dict[str, Constraint] = {}
    for rx, word in CLASS_PATTERNS:
        if word.prop in found:
            continue
        m = rx.search(t)
        if m:
            lo, hi = word.reader_interval()
            found[word.prop] = Constraint(word.prop, lo, hi, "class", m.group(0))
    return list(found.values())


def membership(c: Constraint) -> np.ndarray:
    """Soft membership of the grid points in ``[c.lo, c.hi]``, peak 1: (n,) float32."""
    g = GRIDS[c.prop]
    x = g.centers()
    s = 0.5 * g.step
    lo, hi = min(c.lo, c.hi), max(c.lo, c.hi)
    with np.errstate(over="ignore"):
        m = 1.0 / (1.0 + np.exp(-(x - lo) / s)) / (1.0 + np.exp(-(hi - x) / s))
    peak = float(m.max())
    if peak < 1e-6:  # outside the grid: clamp to the nearest end
        m = np.zeros_like(x)
        m[0 if hi < g.lo else -1] = 1.0
        return m.astype(np.float32)
    return (m / peak).astype(np.float32)


def quantity_features(texts: list[str] | tuple[str, ...]) -> np.ndarray:
    """Number-aware features of B texts: (B, Q) float32, Q = :data:`FEATURE_DIM`.

    Per property in :data:`GRIDS` order: a presence flag, then the membership vector.
    """
    out = np.zeros((len(texts), FEATURE_DIM), dtype=np.float32)
    offsets, o = {}, 0
    for name, g in GRIDS.items():
        offsets[name] = o
        o += 1 + g.n
    for i, text in enumerate(texts):
        for c in parse_constraints(text):
            o = offsets[c.prop]
            out[i, o] = 1.0
            out[i, o + 1 : o + 1 + GRIDS[c.prop].n] = membership(c)
    return out
