"""Property-query views: short, formula-free texts a scientist might type, about the
crystal's properties (band gap, formation energy, density, magnetization).

Numbers are written in many ways (``2.13 eV``, ``2.1 eV``, ``~2 eV``, ``about 2 eV``), as
ranges that contain the value (``between 1.5 and 2.5 eV``) and as bounds it satisfies
(``above 1.5 eV``); class words come from the value (``metallic``, ``wide-gap``). Every
statement is true of the crystal. Texts never name the formula or an element, so the model
has to read the property, not match a string.

Views: ``query`` (band-gap led when a gap is known) and ``query2`` (any known property).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from clac_core.properties import band_gap_of
from clac_core.text.templates import Picker
from clac_core.vocab.classes import LIGHTWEIGHT, METALLIC, NON_MAGNETIC, VERY_DENSE, gap_word

if TYPE_CHECKING:  # pragma: no cover
    from clac_core.record import CrystalRecord
    from clac_core.text.facts import CrystalFacts

QUERY_VIEWS = ("query", "query2")

_APPROX = ["about", "around", "~", "≈", "roughly", "approximately", "close to", "near", "of about", "some"]


def _fmt(x: float, d: int) -> str:
    s = f"{x:.{d}f}"
    return "0" if s in ("-0", "-0.0", "-0.00") else s


def _number(v: float, unit: str, p: Picker, slot: str, *, step: float, decimals: int) -> str:
    """The value ``v`` written one of several true ways (exact, rounded, approximate, range, bound)."""
    k = p.index(slot, 9)
    sep = " " if unit else ""
    if k == 0:
        return f"{_fmt(v, decimals)}{sep}{unit}"
    if k == 1:
        return f"{_fmt(v, max(decimals - 1, 0))}{sep}{unit}"
    if k in (2, 3):
        r = round(v / step) * step
        return f"{p.choice(slot + 'a', _APPROX)} {_fmt(r, 1 if step < 1 else 0)}{sep}{unit}".replace("~ ", "~")
    width = step * (1 + p.index(slot + "w", 3))
    lo = math.floor((v - p.index(slot + "o", 3) * step / 2) / step) * step
    hi = max(lo + width, math.ceil(v / step) * step)
    if k == 4:
        return f"between {_fmt(lo, 1)} and {_fmt(hi, 1)}{sep}{unit}"
    if k == 5:
        return f"{_fmt(lo, 1)}–{_fmt(hi, 1)}{sep}{unit}"
    if k == 6:
        return f"from {_fmt(lo, 1)} to {_fmt(hi, 1)}{sep}{unit}"
    if k == 7:
        b = math.floor(v / step) * step - p.index(slot + "b", 3) * step
        return f"{p.choice(slot + 'c', ['above', 'over', 'greater than', 'at least', 'more than', '>'])} {_fmt(b, 1)}{sep}{unit}"
    b = math.ceil(v / step) * step + p.index(slot + "b", 3) * step
    return f"{p.choice(slot + 'c', ['below', 'under', 'less than', 'at most', 'up to', '<'])} {_fmt(b, 1)}{sep}{unit}"


def gap_clause(g: float, p: Picker) -> str:
    if METALLIC.contains(g):
        return p.choice(
            "gap0",
            [
                "metallic",
                "a metal",
                "metallic conductor",
                "with no band gap",
                "zero band gap",
                "gapless",
                "a conductor with band gap 0 eV",
                "metal (Eg = 0)",
                "metallic, no gap",
            ],
        )
    x = _number(max(g, 0.01), "eV", p, "gapnum", step=0.5, decimals=2)
    word = gap_word(g)
    frames = [
        f"band gap {x}",
        f"a band gap of {x}",
        f"with a {x} band gap" if not x[0].isalpha() else f"with a band gap {x}",
        f"Eg {x}" if not x[0].isdigit() else f"Eg = {x}",
        f"{word} with a gap {x}" if x[0].isalpha() or x[0] in "~≈<>" else f"{word} with a {x} gap",
        f"{word}, band gap {x}",
        f"bandgap {x}",
        f"optical gap {x}",
        f"electronic band gap {x}",
        f"{word}",
    ]
    return p.choice("gapframe", frames)


def formation_clause(e: float, p: Picker) -> str:
    x = _number(e, p.choice("efunit", ["eV/atom", "eV per atom", "eV/atom"]), p, "efnum", step=0.5, decimals=2)
    frames = [
        f"formation energy {x}",
        f"a formation energy of {x}",
        f"formation enthalpy {x}",
        f"ΔHf {x}" if not x[0].isdigit() and x[0] != "-" else f"ΔHf = {x}",
        f"energy of formation {x}",
    ]
    c = p.choice("efframe", frames)
    if e > 0 and p.coin("efq"):
        c = f"unstable, {c}"
    return c


def density_clause(d: float, p: Picker) -> str:
    x = _number(d, p.choice("dunit", ["g/cm³", "g/cm3", "g cm-3"]), p, "dnum", step=1.0, decimals=2)
    frames = [f"density {x}", f"a density of {x}", f"mass density {x}", f"ρ {x}" if not x[0].isdigit() else f"ρ = {x}"]
    c = p.choice("dframe", frames)
    if VERY_DENSE.contains(d) and p.coin("dq"):
        c = f"very dense, {c}"
    elif LIGHTWEIGHT.contains(d) and p.coin("dq"):
        c = f"lightweight, {c}"
    return c


def magnet_clause(m: float, p: Picker) -> str:
    m = abs(m)
    if NON_MAGNETIC.contains(m):
        return p.choice("mag0", ["non-magnetic", "nonmagnetic", "no magnetic moment", "non-magnetic (0 μB)"])
    x = _number(m, "μB", p, "mnum", step=1.0, decimals=2)
    return p.choice(
        "magframe",
        [f"magnetic, {x} per cell", f"magnetic moment {x}", f"ferromagnetic-like moment of {x}", "magnetic", f"net magnetization {x}"],
    )


def _noun(f: CrystalFacts, p: Picker) -> str:
    cls = f.anion_class if f.anion_class not in ("element", "compound") else ""
    opts = ["material", "compound", "crystal", "a material", "solid"]
    if cls:
        opts += [cls, f"{f.crystal_system} {cls}"]
    opts += [f"{f.crystal_system} crystal", f"{f.crystal_system} material"]
    return p.choice("noun", opts)


def query_texts(record: CrystalRecord, f: CrystalFacts, seed: int) -> list[tuple[str, str]]:
    """(view, text) pairs: ``query`` and ``query2`` (see the module docstring)."""
    props = {k: float(v) for k, v in record.properties.items() if v == v}
    gap = band_gap_of(props)
    out: list[tuple[str, str]] = []
    for view in QUERY_VIEWS:
        p = Picker(seed, f"{record.id}|{view}")
        clauses: list[tuple[str, str]] = []
        if gap is not None:
            clauses.append(("gap", gap_clause(gap, p)))
        if "formation_energy_per_atom" in props:
            clauses.append(("ef", formation_clause(props["formation_energy_per_atom"], p)))
        if "total_magnetization" in props:
            clauses.append(("mag", magnet_clause(props["total_magnetization"], p)))
        clauses.append(("density", density_clause(props.get("density", f.density), p)))
        if view == "query" and gap is not None:
            chosen = [clauses[0]] + (p.shuffled("extra", clauses[1:])[:1] if p.index("n", 3) == 0 else [])
        else:
            chosen = p.shuffled("pick", clauses)[: 1 + p.index("n2", 2)]
        parts = [c for _, c in chosen]
        noun = _noun(f, p)
        joiner = p.choice("join", [", ", "; ", " and ", ", "])
        body = joiner.join(parts)
        frame = p.index("frame", 5)
        if frame == 0:
            text = f"{noun} with {body}" if not body.startswith(("with ", "a ", "metallic", "magnetic", "non", "gapless")) else f"{noun}, {body}"
        elif frame == 1:
            text = body
        elif frame == 2:
            text = f"{noun}: {body}"
        elif frame == 3:
            text = f"find a {noun.removeprefix('a ')} — {body}"
        else:
            text = f"{body} {noun.removeprefix('a ')}"
        out.append((view, " ".join(text.split())))
    return out
