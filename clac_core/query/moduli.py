"""Elastic moduli in a search query: bulk and shear modulus (any pressure unit), Poisson's ratio,
and the elastic class words ("stiff", "soft", "hard", "incompressible").

Read by the search intent only. The model's number-aware text features
(:func:`clac_core.query.numbers.quantity_features`) do not read moduli: a model is trained on
those features, and they must stay the same for every text (``tests/test_quantity_features_frozen.py``).
So this module has its own patterns and never touches :data:`~clac_core.query.numbers.GRIDS`.

Values are canonical as in :mod:`clac_core.properties`: GPa for moduli (VRH averages), Poisson's
ratio unitless. Other pressure units (MPa, kbar, Mbar, TPa, psi ...) are converted by pint.
"""

from __future__ import annotations

import math
import re

from clac_core.query.numbers import _ABOVE, _APPROX, _BELOW, _NUM, MAX_TEXT_CHARS, Constraint, _num, _units
from clac_core.vocab.classes import MODULUS_READ_ORDER

MODULUS_PROPS = ("bulk_modulus", "shear_modulus", "poisson_ratio")
# a plain value ("bulk modulus 200 GPa") is read as this half-width around it, canonical units
TOLERANCE = {"bulk_modulus": 10.0, "shear_modulus": 10.0, "poisson_ratio": 0.02}
# (regex, pint unit) of the pressure units a modulus may be written in
_PRESSURE_UNITS: list[tuple[str, str]] = [
    (r"gpa", "GPa"), (r"mpa", "MPa"), (r"tpa", "TPa"), (r"kpa", "kPa"), (r"mbar", "megabar"),
    (r"kbar", "kilobar"), (r"psi", "psi"), (r"ksi", "kilopsi"),
]
_UNIT_RE = "|".join(u for u, _ in _PRESSURE_UNITS)
_KEY_RE = re.compile(
    r"(?P<bulk>\bbulk[\s-]+modul[iu]s?\b|\bk_?vrh\b|\bcompressib)|(?P<shear>\bshear[\s-]+modul[iu]s?\b|\bg_?vrh\b|\brigidity\b)"
    r"|(?P<young>\byoung'?s?[\s-]+modul[iu]s?\b)",
    re.IGNORECASE,
)
_CMP = rf"(?:(?P<above>{_ABOVE})\s*|(?P<below>{_BELOW})\s*|(?P<approx>{_APPROX})\s*)?"
_RANGE = r"(?:\s*(?:-|–|—|to|and|\.\.)\s*(?P<b>" + _NUM + r"))?"
_MODULUS_Q = re.compile(
    rf"(?:between|from|in\s+the\s+range(?:\s+of)?)?\s*{_CMP}(?<![\d.,])(?P<a>{_NUM})\s*(?:{_UNIT_RE})?"
    rf"{_RANGE}\s*(?P<unit>{_UNIT_RE})\b(?P<post>\s*(?:or\s+(?:more|higher|above)|or\s+(?:less|lower|below)|\+))?",
    re.IGNORECASE,
)
_POISSON_Q = re.compile(
    rf"\bpoisson'?s?(?:[\s-]+ratio)?\s*(?:of|is|=|:|ν)?\s*(?:between\s+|from\s+)?{_CMP}"
    rf"(?P<a>{_NUM}){_RANGE}(?P<post>\s*(?:or\s+(?:more|higher|above)|or\s+(?:less|lower|below)))?",
    re.IGNORECASE,
)
_COMPILED = tuple((re.compile(w.pattern, re.IGNORECASE), w) for w in MODULUS_READ_ORDER)


def _to_gpa(value: float, unit_text: str) -> float:
    """A pressure as written -> GPa (pint for anything but GPa)."""
    unit = next(u for rx, u in _PRESSURE_UNITS if re.fullmatch(rx, unit_text, re.IGNORECASE))
    if unit == "GPa":
        return value
    return float(_units().Quantity(value, unit).to("GPa").magnitude)


def _owner(text: str, start: int, end: int) -> str | None:
    """Which modulus a pressure at ``text[start:end]`` belongs to: the nearest key word before
    it in the same clause, else one right after it ("a 300 GPa bulk modulus"); Young's modulus
    is not in the corpus (None)."""
    left = re.split(r"[;.!?]\s", text[max(0, start - 60) : start])[-1]
    best = None
    for m in _KEY_RE.finditer(left):
        best = m.lastgroup
    if best is None and (m := _KEY_RE.match(text[end : end + 30].lstrip())):
        best = m.lastgroup
    return {"bulk": "bulk_modulus", "shear": "shear_modulus"}.get(best or "")


def _constraint(prop: str, m: re.Match[str], a: float, b: float | None) -> Constraint:
    words = m.group(0).strip()
    post = (m.group("post") or "").strip().lower()
    if b is not None:
        return Constraint(prop, min(a, b), max(a, b), "range", words)
    if m.group("above") or post.startswith(("or m", "or h", "or a", "+")):
        return Constraint(prop, a, math.inf, "above", words)
    if m.group("below") or post.startswith("or "):
        return Constraint(prop, -math.inf if prop == "poisson_ratio" else 0.0, a, "below", words)
    tol = TOLERANCE[prop] * (2.0 if m.group("approx") else 1.0)
    return Constraint(prop, a - tol, a + tol, "approx" if m.group("approx") else "value", words)


def modulus_constraints(text: str) -> list[Constraint]:
    """Bulk / shear modulus and Poisson's ratio constraints of a query: numbers first, then the
    elastic class words for properties no number covered. At most one per property."""
    t = " ".join(str(text)[:MAX_TEXT_CHARS].split())
    found: dict[str, Constraint] = {}
    for m in _MODULUS_Q.finditer(t):
        prop = _owner(t, m.start("a"), m.end())
        if prop is None or prop in found:
            continue
        a = _to_gpa(_num(m.group("a")), m.group("unit"))
        b = _to_gpa(_num(m.group("b")), m.group("unit")) if m.group("b") else None
        found[prop] = _constraint(prop, m, a, b)
    m = _POISSON_Q.search(t)
    if m and "poisson_ratio" not in found:
        b = _num(m.group("b")) if m.group("b") else None
        found["poisson_ratio"] = _constraint("poisson_ratio", m, _num(m.group("a")), b)
    for rx, word in _COMPILED:
        if word.prop not in found and (hit := rx.search(t)):
            lo, hi = word.reader_interval()
            found[word.prop] = Constraint(word.prop, lo, hi, "class", hit.group(0))
    return list(found.values())
