"""The ``composition`` and ``structure`` views: texts written from the crystal facts alone.

``composition``: formula, element families, oxidation states (when guessed), space group,
crystal system, lattice parameters. ``structure``: coordination numbers and polyhedra, bond
lengths, dimensionality, density, atoms per cell, prototype/mineral names from the labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clac_core.text import templates as T
from clac_core.text.templates import Picker

if TYPE_CHECKING:
    from clac_core.text.facts import CrystalFacts


# --------------------------------------------------------------------------------------
# composition


def composition_text(f: CrystalFacts, p: Picker) -> str:
    F = f.formula
    fam = T.families_phrase(f, p)
    sg = T.spacegroup_phrase(f, p)
    sysw = f.crystal_system
    lat = T.lattice_phrase(f, p)
    ox = T.oxidation_phrase(f)
    cls = f.anion_class
    cls_w = {"element": "elemental solid", "compound": "compound"}.get(cls, cls)
    elems = T.join_words(f.elements)
    ox_s = (
        p.choice(
            "ox",
            [
                f" Likely oxidation states are {ox}.",
                f" The ions are probably {ox}.",
                f" Formal charges: {ox}.",
                f" Charge balance suggests {ox}.",
            ],
        )
        if ox
        else ""
    )
    frames = [
        lambda: (
            f"{F} is {T.with_article(cls_w)} made of {fam}.{ox_s} It crystallizes in the {sysw} {sg} with {lat}."
        ),
        lambda: f"{F} crystallizes in the {sysw} {sg}. It contains {fam}.{ox_s} Lattice parameters: {lat}.",
        lambda: f"The {sysw} {cls_w} {F}, in {sg}, has lattice parameters {lat}.{ox_s} Its elements: {fam}.",
        lambda: f"Composition {F}: {fam}. Symmetry: {sysw}, {sg}; {lat}.{ox_s}",
        lambda: f"{F}, {T.with_article(sysw)} {cls_w} in {sg}, with {lat}.{ox_s} It combines {fam}.",
        lambda: f"A {sysw} crystal of {F} ({elems}) with {sg} and conventional cell {lat}.{ox_s}",
        lambda: (
            f"{F} is {T.with_article(sysw)} {cls_w}.{ox_s} Space group: {f.spacegroup_symbol}, number {f.spacegroup_number}. Cell: {lat}."
        ),
        lambda: f"Chemistry: {fam}, formula {F}.{ox_s} Structure: {sysw}, {sg}, {lat}.",
        lambda: f"This {cls_w} has the formula {F} and {sysw} symmetry ({sg}).{ox_s} The lattice has {lat}.",
        lambda: (
            f"{sg[:1].upper() + sg[1:]} hosts {F}, {T.with_article(sysw)} {cls_w} of {fam}, with {lat}.{ox_s}"
        ),
        lambda: (
            f"{F} ({cls_w}) adopts {sg} in the {sysw} system.{ox_s} Conventional lattice: {lat}. Constituents: {fam}."
        ),
        lambda: f"Crystal with composition {F} built from {fam}; {sysw}, {sg}, {lat}.{ox_s}",
    ]
    return frames[p.index("frame", len(frames))]().strip()


# --------------------------------------------------------------------------------------
# structure


def structure_text(f: CrystalFacts, p: Picker) -> str:
    F = p.choice(
        "formula_ref", [f.formula, f"composition {f.formula}", f.formula, f"the {f.formula} crystal"]
    )
    local = T.local_sentences(f, p)
    local_s = (T.join_words(local, p.choice("localconj", ["and", "while"])) + ".") if local else ""
    local_s = local_s[:1].upper() + local_s[1:]
    bonds = T.bond_sentence(f, p) or ""
    dim = ""
    if f.dimensionality is not None:
        dim = f"{F[:1].upper() + F[1:]} " + p.choice("dim", T.DIM_PHRASES[f.dimensionality]) + "."
    dens_s = _density_sentence(f, p)
    label = T.label_sentence(f, p) or ""
    head = p.choice(
        "head",
        [
            f"Local structure of {f.formula}:",
            f"In {f.formula},",
            f"{f.formula} structure.",
            f"Coordination in {f.formula}:",
            f"Atomic environments of {f.formula}:",
        ],
    )
    if head.endswith(","):
        body = local_s
        head_local = f"{head} {body}" if body else f"{f.formula} has no bonded neighbours within range."
    else:
        head_local = f"{head} {local_s}".strip()
    parts_orders = [
        [head_local, bonds, dim, dens_s, label],
        [head_local, dim, bonds, label, dens_s],
        [dim, head_local, bonds, dens_s, label],
        [label, head_local, dim, bonds, dens_s],
        [head_local, label, dens_s, dim, bonds],
        [dens_s, head_local, bonds, dim, label],
        [head_local, bonds, label, dens_s, dim],
        [dim, label, head_local, dens_s, bonds],
        [head_local, dens_s, bonds, label, dim],
        [label, dim, head_local, bonds, dens_s],
        [bonds, head_local, dim, label, dens_s],
    ]
    order = parts_orders[p.index("order", len(parts_orders))]
    text = " ".join(x for x in order if x)
    if f.formula not in text:  # every non-caption view names the crystal
        text = f"{f.formula}: {text}"
    return text


def _density_sentence(f: CrystalFacts, p: Picker) -> str:
    """Density and atoms per cell, e.g. "Density: 5.12 g/cm³ (5 atoms per cell)."."""
    dens = p.choice(
        "dens",
        [
            f"Its density is {f.density:.2f} g/cm³",
            f"Density: {f.density:.2f} g/cm³",
            f"It has a density of {f.density:.2f} g/cm³",
        ],
    )
    cell = p.choice(
        "cell",
        [
            f"with {f.nsites} atoms in the cell",
            f"and the cell holds {f.nsites} atoms",
            f"({f.nsites} atoms per cell)",
        ],
    )
    return f"{dens} {cell}."
