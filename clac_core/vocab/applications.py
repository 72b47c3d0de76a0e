"""Application words ("photovoltaic absorber", "Li-ion cathode candidate") and their rules.

An application word is written about a crystal only where a stated, documented rule over its
computed facts makes it true; the rule is the word's meaning, not a claim that the material
works in a device. Gaps are DFT (PBE) values, which underestimate measured gaps.

- photovoltaic absorber candidate: band gap 1.1-1.7 eV (the single-junction optimum region of
  the Shockley-Queisser limit);
- transparent conducting oxide candidate: an oxide with a wide gap (>= 3 eV), i.e. transparent
  to visible light when undoped (conductivity comes from doping, which no DFT gap states);
- Li-ion / Na-ion cathode candidate: contains Li (Na), a redox-active transition metal and an
  anion (oxide, phosphate, sulfide, fluoride ...): the chemistry of intercalation cathodes
  (LiCoO2, LiFePO4, NaMnO2).

The search reads one more application word than the writers write: "thermoelectric", a narrow
PBE gap (0-1 eV; the best thermoelectric gap is about 6-10 kT at the operating temperature,
Sofo & Mahan, Phys. Rev. B 49, 4565 (1994), i.e. 0.15-0.6 eV, which PBE puts lower still) or a
known thermoelectric family (Snyder & Toberer, Nat. Mater. 7, 105 (2008)). It is not written
into training texts: no model trained so far has read it, so it stays a search rule only.
"""

from __future__ import annotations

from dataclasses import dataclass

from clac_core.vocab.classes import NARROW_GAP, WIDE_GAP, ClassWord
from clac_core.vocab.classes import PHOTOVOLTAIC as PHOTOVOLTAIC_GAP

# transition metals whose oxidation state changes on (de)intercalation in known cathodes
REDOX_METALS: frozenset[str] = frozenset({"Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Nb", "Mo", "W"})
# anion classes of a compound (not "element", "intermetallic" or the unnamed "compound")
_NOT_IONIC = frozenset({"element", "intermetallic", "compound"})


@dataclass(frozen=True)
class ApplicationWord:
    """An application phrase and the rule (in words) that makes it true."""

    phrase: str
    rule: str


PHOTOVOLTAIC = ApplicationWord("photovoltaic absorber candidate", "band gap 1.1-1.7 eV")
TRANSPARENT_CONDUCTOR = ApplicationWord("transparent conducting oxide candidate", "an oxide with a band gap >= 3 eV")
LI_CATHODE = ApplicationWord("Li-ion cathode candidate", "Li + a redox-active transition metal + an anion")
NA_CATHODE = ApplicationWord("Na-ion cathode candidate", "Na + a redox-active transition metal + an anion")


def applications(elements: list[str] | tuple[str, ...], anion_class: str, gap: float | None) -> list[ApplicationWord]:
    """The application words whose rule holds for a crystal (``gap`` None when unknown)."""
    out: list[ApplicationWord] = []
    if gap is not None and PHOTOVOLTAIC_GAP.contains(gap):
        out.append(PHOTOVOLTAIC)
    if gap is not None and anion_class == "oxide" and WIDE_GAP.contains(gap):
        out.append(TRANSPARENT_CONDUCTOR)
    ionic = anion_class not in _NOT_IONIC
    redox = bool(REDOX_METALS & set(elements))
    if ionic and redox and "Li" in elements:
        out.append(LI_CATHODE)
    if ionic and redox and "Na" in elements:
        out.append(NA_CATHODE)
    return out


# --------------------------------------------------------------------------------------
# the search's reading of application words: a known family OR the rule above (the one home
# of each rule; the "Understood" line names the rule that applied)


@dataclass(frozen=True)
class ApplicationQuery:
    """An application word as the search reads it: crystals of the known family, or crystals
    the rule's gap range, anion and elements admit.

    Attributes:
        name: shown on the "Understood" line.
        pattern: regular expression (case-insensitive) of the words that name it.
        rule: the rule in words.
        gap: band-gap class the rule asks for (None: no gap condition).
        anion: element that must be among the crystal's anions (None: any).
        needs_any: at least one of these elements (empty: no condition).
        needs_redox: a redox-active transition metal (:data:`REDOX_METALS`) is needed.
        known: reduced formulas of the known family, admitted whatever their PBE gap.
    """

    name: str
    pattern: str
    rule: str
    gap: ClassWord | None = None
    anion: str | None = None
    needs_any: frozenset[str] = frozenset()
    needs_redox: bool = False
    known: tuple[str, ...] = ()


SEARCH_APPLICATIONS: tuple[ApplicationQuery, ...] = (
    ApplicationQuery(
        "transparent conducting oxide", r"\btransparent[\s-]+conduct(?:ing|ive|ors?)(?:[\s-]+oxides?)?\b|\btcos?\b",
        "an oxide with a PBE gap >= 3 eV, or a known TCO host (In2O3, SnO2, ZnO, CdO, Ga2O3: PBE puts their "
        "gaps below 3 eV)", gap=WIDE_GAP, anion="O", known=("In2O3", "SnO2", "ZnO", "CdO", "Ga2O3"),
    ),
    ApplicationQuery(
        "photovoltaic absorber", r"\bphotovoltaic|\bsolar[\s-](?:cell\s+)?absorb|\bsolar[\s-]cells?\b",
        "a PBE gap of 1.1-1.7 eV, or a known absorber (Si, GaAs, CdTe, InP, CuInSe2, CuGaSe2, Cu2ZnSnS4, "
        "CsPbI3, Sb2Se3)", gap=PHOTOVOLTAIC_GAP,
        known=("Si", "GaAs", "CdTe", "InP", "CuInSe2", "CuGaSe2", "Cu2ZnSnS4", "CsPbI3", "Sb2Se3"),
    ),
    ApplicationQuery(
        "battery cathode", r"\b(?:battery|li[\s-]?ion|na[\s-]?ion|lithium[\s-]ion|sodium[\s-]ion)\s+cathodes?\b"
        r"|\bcathode\s+materials?\b|\bcathodes?\b",
        "Li or Na + a redox-active transition metal + an anion, or a known cathode (LiCoO2, LiFePO4, LiMn2O4, "
        "LiNiO2, LiMnO2, NaMnO2, NaFePO4)", anion=None, needs_any=frozenset({"Li", "Na"}), needs_redox=True,
        known=("LiCoO2", "LiFePO4", "LiMn2O4", "LiNiO2", "LiMnO2", "NaMnO2", "NaFePO4"),
    ),
    ApplicationQuery(
        "thermoelectric", r"\bthermo-?electrics?\b",
        "a narrow PBE gap (0-1 eV), or a known thermoelectric (Bi2Te3, Sb2Te3, Bi2Se3, PbTe, PbSe, SnTe, SnSe, "
        "GeTe, AgSbTe2, Mg2Si, Mg3Sb2, CoSb3, Cu2Se, BiCuSeO)", gap=NARROW_GAP,
        known=("Bi2Te3", "Sb2Te3", "Bi2Se3", "PbTe", "PbSe", "SnTe", "SnSe", "GeTe", "AgSbTe2", "Mg2Si", "Mg3Sb2",
               "CoSb3", "Cu2Se", "BiCuSeO"),
    ),
)
