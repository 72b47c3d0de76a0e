"""The ``caption`` view: a short search-box style phrase, never the formula."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clac_core.properties import band_gap_of
from clac_core.text import templates as T
from clac_core.text.templates import Picker
from clac_core.vocab.classes import INSULATOR, MAGNETIC, METALLIC, MODERATE_GAP, NARROW_GAP

if TYPE_CHECKING:
    from clac_core.record import CrystalRecord
    from clac_core.text.facts import CrystalFacts


# --------------------------------------------------------------------------------------
# caption


def _prototype_word(f: CrystalFacts, record: CrystalRecord) -> str | None:
    name = f.labels.get("prototype") or f.labels.get("mineral")
    if not name and record.source == "perov_5":  # the Perov-5 set contains only ABX3 perovskites
        name = "perovskite"
    return name.lower() if name else None


def caption_text(record: CrystalRecord, f: CrystalFacts, p: Picker) -> str:
    """A short search-box phrase: a few qualifiers + a noun (+ a gap tail), never the formula."""
    proto, noun = _caption_noun(record, f, p)
    quals = _caption_qualifiers(record, f, p)
    gap = band_gap_of(record.properties)
    if gap is not None and gap == 0:
        quals.append("metallic")
    tail = _gap_tail(gap, p)

    q = p.shuffled("quals", quals)
    frames = [
        lambda: f"{q[0]} {noun}",
        lambda: f"{q[0]} {noun} {tail}",
        lambda: f"{' '.join(q[:2])} {noun}",
        lambda: f"{q[-1]} {noun} {tail}",
        lambda: f"{noun} {tail}" if tail else f"{q[-1]} {noun}",
        lambda: f"{noun} with {f.crystal_system} symmetry",
        lambda: f"{noun} in space group {f.spacegroup_symbol}",
        lambda: f"{q[0]} {noun}, {f.spacegroup_symbol}",
        lambda: f"{' '.join(q[:2])} {noun} {tail}",
        lambda: (
            f"{q[-1]} {f.crystal_system} {noun}"
            if q[-1] != f.crystal_system
            else f"{f.crystal_system} {noun} crystal"
        ),
        lambda: f"{noun} ({q[0]})",
    ]
    text = frames[p.index("frame", len(frames))]()
    text = " ".join(text.replace(" ,", ",").split())
    if proto and proto not in text:  # a labelled prototype always shows in the caption
        text = f"{proto} {text}"
    return text


def _caption_noun(record: CrystalRecord, f: CrystalFacts, p: Picker) -> tuple[str | None, str]:
    """(labelled prototype word or None, the caption's noun, e.g. "perovskite oxide")."""
    cls = {"element": "elemental solid", "compound": "compound"}.get(f.anion_class, f.anion_class)
    if f.anion_class == "element":
        cls = p.choice(
            "elem",
            [f"elemental {T.element_name(f.elements[0])}", f"{T.element_name(f.elements[0])} allotrope"],
        )
    proto = _prototype_word(f, record)
    noun = f"{proto} {cls}" if proto and proto not in cls else cls
    if proto and p.coin("prototype_noun"):
        noun = p.choice("protonoun", [f"{proto}-type {cls}", f"{proto} structure {cls}", f"{proto}"])
    return proto, noun


def _caption_qualifiers(record: CrystalRecord, f: CrystalFacts, p: Picker) -> list[str]:
    """Qualifiers of the caption's noun, each a known fact (crystal system first)."""
    quals: list[str] = [f.crystal_system]
    if f.dimensionality in (0, 1, 2):
        quals.append({0: "molecular", 1: "chain-like", 2: "layered"}[f.dimensionality])
    cation_polys = [s.polyhedron for s in f.sites if f.anions and s.element not in f.anions and s.polyhedron]
    cation_polys = [x for x in cation_polys if x != "single-bonded"]
    if cation_polys:
        quals.append(p.choice("poly", cation_polys))
    if len(f.elements) == 2 and f.anions and f.anion_class not in {"element"}:
        cat = [e for e in f.elements if e not in f.anions]
        if cat:
            quals.append(T.element_name(cat[0]))
    fams = sorted({f.families[e] for e in f.elements if e not in f.anions} - {"nonmetal"})
    if f.anions and fams:
        quals.append(p.choice("capfam", fams))
    mag = record.properties.get("total_magnetization")
    if mag is not None:
        quals.append("magnetic" if MAGNETIC.contains(abs(mag)) else "non-magnetic")
    if record.hypothetical:
        quals.append("hypothetical")
    return quals


def _gap_tail(gap: float | None, p: Picker) -> str:
    """The caption's band-gap tail ("semiconductor", "with a wide band gap"); "" without a gap."""
    if gap is None:
        return ""
    if METALLIC.contains(gap):
        return p.choice("metal_tail", ["metal", "with no band gap", "conductor"])
    if NARROW_GAP.contains(gap):
        return p.choice("gap_tail", ["with a small band gap", "semiconductor", "narrow-gap semiconductor"])
    if MODERATE_GAP.contains(gap):
        return p.choice("gap_tail", ["semiconductor", "with a moderate band gap"])
    if INSULATOR.contains(gap):
        return p.choice("gap_tail", ["with a wide band gap", "wide-gap insulator", "insulator"])
    return p.choice("gap_tail", ["with a wide band gap", "wide-gap semiconductor"])
