"""Chemistry of a crystal's elements: anions, anion class and oxidation states.

Rules used by :func:`clac_core.text.facts.analyze`, over the element table of
:mod:`clac_core.vocab.elements` (families, metals, anion names); anions are refined with the
neighbour distances (:func:`refine_anions`) and the anion class looks at the site environments
(:func:`anion_class`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clac_core.vocab.elements import ANION_NAMES, ELECTRONEGATIVITY, OXOANIONS, is_metal

if TYPE_CHECKING:  # pymatgen is imported lazily: it takes ~1 s
    from pymatgen.core import Composition

    from clac_core.text.sites import SiteEnvironment

def electronegativity(symbol: str) -> float:
    """Pauling electronegativity (0 where none is defined), from the element table."""
    return ELECTRONEGATIVITY[symbol]


def oxidation_states(comp: Composition, anions: list[str], max_elements: int, max_atoms: float):
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


def refine_anions(
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

    metals = [e for e in elements if is_metal(e)]
    if not metals:
        return anions
    xmax_metal = max(electronegativity(e) for e in metals)
    main = anions[0]
    sp = np.array(species)
    out = list(anions)
    for e in elements:
        if e in out or e not in ANION_NAMES or is_metal(e) or electronegativity(e) <= xmax_metal:
            continue
        m = (sp[ci] == e) & (sp[cj] == main)
        dmin = float(dist[m].min()) if m.any() else np.inf
        r = (Element(e).atomic_radius or 1.0) + (Element(main).atomic_radius or 1.0)
        if dmin > 1.25 * r:
            out.append(e)
    return out


def anion_class(elements: list[str], anions: list[str], sites: list[SiteEnvironment]) -> str:
    if len(elements) == 1:
        return "element"
    if not anions:
        return "intermetallic" if all(is_metal(e) for e in elements) else "compound"
    if anions == ["O"] and len(elements) >= 3:
        # oxosalts: a centre bonded only to O with the textbook coordination
        for s in sites:
            key = (s.element, s.cn)
            if key in OXOANIONS and set(s.neighbors) == {"O"}:
                return OXOANIONS[key]
    if len(anions) == 1:
        return ANION_NAMES[anions[0]]
    if len(anions) == 2:
        if "O" in anions:  # oxyfluoride, oxynitride, oxysulfide, oxyarsenide ...
            other = anions[1] if anions[0] == "O" else anions[0]
            return "oxy" + ANION_NAMES[other]
        return f"{ANION_NAMES[anions[0]]} {ANION_NAMES[anions[1]]}"
    return "mixed-anion compound"


OXIDE_TYPES = ("oxide", "peroxide", "superoxide", "ozonide", "hydroxide")


def oxide_type_of(structure) -> str | None:
    """pymatgen's ``oxide_type`` (O-O and O-H distances): one of :data:`OXIDE_TYPES`, "None"
    when the structure has oxygen that is none of them (or no oxygen), or None when pymatgen
    cannot type the structure (disorder, odd species)."""
    import warnings

    from pymatgen.analysis.structure_analyzer import oxide_type

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return str(oxide_type(structure))
    except Exception:  # noqa: BLE001 - pymatgen raises many kinds here
        return None
