"""Chemistry of a crystal's elements: families, anions, anion class and oxidation states.

Element tables and rules used by :func:`clac_core.text.facts.analyze`; anions are refined with
the neighbour distances (:func:`_refine_anions`) and the anion class looks at the site
environments (:func:`_anion_class`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pymatgen is imported lazily: it takes ~1 s
    from pymatgen.core import Composition

    from clac_core.text.facts import SiteEnvironment

# --------------------------------------------------------------------------------------
# Element tables

_ALKALI = {"Li", "Na", "K", "Rb", "Cs", "Fr"}
_ALKALINE_EARTH = {"Be", "Mg", "Ca", "Sr", "Ba", "Ra"}
_LANTHANIDES = {"La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"}
_ACTINIDES = {"Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr"}
_POST_TRANSITION = {"Al", "Ga", "In", "Sn", "Tl", "Pb", "Bi", "Po", "Nh", "Fl", "Mc", "Lv"}
_METALLOIDS = {"B", "Si", "Ge", "As", "Sb", "Te"}
_CHALCOGENS = {"O", "S", "Se", "Te"}
_HALOGENS = {"F", "Cl", "Br", "I", "At"}
_PNICTOGENS = {"N", "P", "As", "Sb", "Bi"}
_NOBLE_GASES = {"He", "Ne", "Ar", "Kr", "Xe", "Rn"}
_OTHER_NONMETALS = {"H", "C"}

# Elements that act as anions, most specific class name each.
ANION_NAMES: dict[str, str] = {
    "O": "oxide",
    "S": "sulfide",
    "Se": "selenide",
    "Te": "telluride",
    "N": "nitride",
    "P": "phosphide",
    "As": "arsenide",
    "Sb": "antimonide",
    "F": "fluoride",
    "Cl": "chloride",
    "Br": "bromide",
    "I": "iodide",
    "H": "hydride",
    "C": "carbide",
    "B": "boride",
    "Si": "silicide",
    "Ge": "germanide",
    "Bi": "bismuthide",
}
# Oxoanion-forming centres (X bonded to O only, given coordination) -> salt name.
_OXOANIONS: dict[tuple[str, int], str] = {
    ("P", 4): "phosphate",
    ("S", 4): "sulfate",
    ("Si", 4): "silicate",
    ("B", 3): "borate",
    ("B", 4): "borate",
    ("C", 3): "carbonate",
    ("N", 3): "nitrate",
    ("As", 4): "arsenate",
    ("V", 4): "vanadate",
    ("Mo", 4): "molybdate",
    ("W", 4): "tungstate",
    ("Cr", 4): "chromate",
    ("Ge", 4): "germanate",
    ("Cl", 4): "perchlorate",
}


def element_family(symbol: str) -> str:
    """Primary chemical family of an element, e.g. "alkali metal", "halogen".

    An element belongs to exactly one primary family here (Te is a chalcogen, As a pnictogen,
    Bi a post-transition metal), so texts never contradict themselves.
    """
    if symbol in _ALKALI:
        return "alkali metal"
    if symbol in _ALKALINE_EARTH:
        return "alkaline-earth metal"
    if symbol in _LANTHANIDES:
        return "lanthanide"
    if symbol in _ACTINIDES:
        return "actinide"
    if symbol in _CHALCOGENS:
        return "chalcogen"
    if symbol in _HALOGENS:
        return "halogen"
    if symbol in {"N", "P", "As"}:
        return "pnictogen"
    if symbol in _METALLOIDS:
        return "metalloid"
    if symbol in _POST_TRANSITION:
        return "post-transition metal"
    if symbol in _NOBLE_GASES:
        return "noble gas"
    if symbol in _OTHER_NONMETALS:
        return "nonmetal"
    return "transition metal"


def is_metal(symbol: str) -> bool:
    """Metal by the element-family table: alkali ... post-transition metals, lanthanides, actinides."""
    fam = element_family(symbol)
    return fam.endswith("metal") or fam in {"lanthanide", "actinide"}


_is_metal = is_metal  # the name the crystal-facts code uses


def _electronegativity(symbol: str) -> float:
    import warnings

    from pymatgen.core import Element

    with warnings.catch_warnings():  # pymatgen warns for noble gases, whose X is NaN
        warnings.simplefilter("ignore", UserWarning)
        x = Element(symbol).X
    return float(x) if x == x else 0.0  # noble gases have NaN


def composition_anions(elements: list[str]) -> list[str]:
    """Anion elements: the most electronegative nonmetals when a less electronegative element is present."""
    if len(elements) < 2:
        return []
    cand = [e for e in elements if e in ANION_NAMES and not _is_metal(e)]
    if not cand:
        return []
    x = {e: _electronegativity(e) for e in elements}
    xmin = min(x.values())
    most = max(cand, key=lambda e: x[e])
    if x[most] <= xmin:
        return []
    anions = [most]
    # Other strong anions (O, N, halogens, S, Se, Te) that are clearly more electronegative
    # than every metal in the compound count too ("oxide fluoride", "oxynitride").
    metals_x = [x[e] for e in elements if _is_metal(e)] or [xmin]
    for e in cand:
        if (
            e != most
            and e in {"O", "N", "F", "Cl", "Br", "I", "S", "Se", "Te", "H"}
            and x[e] > max(metals_x) + 0.3
        ):
            # only when e is not bonded as a cation to `most`, i.e. not an oxoanion centre
            if e in {"S", "Se", "Te", "N", "Cl", "Br", "I"} and most == "O":
                continue
            anions.append(e)
    anions.sort(key=lambda e: -x[e])
    return anions


_anions = composition_anions  # the name the crystal-facts code uses


def _oxidation_states(comp: Composition, anions: list[str], max_elements: int, max_atoms: float):
    """Most likely integer oxidation states, or None when the guess would be slow or absent."""
    if not anions:
        return None
    reduced = comp.reduced_composition
    if len(reduced.elements) > max_elements or reduced.num_atoms > max_atoms:
        return None
    try:
        guesses = reduced.oxi_state_guesses(max_sites=-1)
    except Exception:  # pymatgen raises on exotic inputs; unknown is the honest answer
        return None
    if not guesses:
        return None
    best = guesses[0]
    states = {}
    for el, v in best.items():
        if abs(v - round(v)) > 1e-6:  # mixed valence averages are not stated
            return None
        states[str(el)] = int(round(v))
    if any(states.get(a, 0) >= 0 for a in anions):
        return None
    return states


def _refine_anions(
    anions: list[str],
    elements: list[str],
    species: list[str],
    ci: np.ndarray,
    cj: np.ndarray,
    dist: np.ndarray,
) -> list[str]:
    """Add second anions such as As in an oxyarsenide (LaFeAsO-type), but not oxoanion centres.

    A nonmetal more electronegative than every metal present is an anion unless it is
    covalently bonded to the main anion (S in a sulfate, P in a phosphate, H in a hydroxide):
    bonded means closer than 1.25 x the sum of atomic radii.
    """
    if not anions:
        return anions
    from pymatgen.core import Element

    metals = [e for e in elements if _is_metal(e)]
    if not metals:
        return anions
    xmax_metal = max(_electronegativity(e) for e in metals)
    main = anions[0]
    sp = np.array(species)
    out = list(anions)
    for e in elements:
        if e in out or e not in ANION_NAMES or _is_metal(e) or _electronegativity(e) <= xmax_metal:
            continue
        m = (sp[ci] == e) & (sp[cj] == main)
        dmin = float(dist[m].min()) if m.any() else np.inf
        r = (Element(e).atomic_radius or 1.0) + (Element(main).atomic_radius or 1.0)
        if dmin > 1.25 * r:
            out.append(e)
    return out


def _anion_class(elements: list[str], anions: list[str], sites: list[SiteEnvironment]) -> str:
    if len(elements) == 1:
        return "element"
    if not anions:
        return "intermetallic" if all(_is_metal(e) for e in elements) else "compound"
    if anions == ["O"] and len(elements) >= 3:
        # oxosalts: a centre bonded only to O with the textbook coordination
        for s in sites:
            key = (s.element, s.cn)
            if key in _OXOANIONS and set(s.neighbors) == {"O"}:
                return _OXOANIONS[key]
    if len(anions) == 1:
        return ANION_NAMES[anions[0]]
    if len(anions) == 2:
        if "O" in anions:  # oxyfluoride, oxynitride, oxysulfide, oxyarsenide ...
            other = anions[1] if anions[0] == "O" else anions[0]
            return "oxy" + ANION_NAMES[other]
        return f"{ANION_NAMES[anions[0]]} {ANION_NAMES[anions[1]]}"
    return "mixed-anion compound"
