"""Synthetic descriptions of a crystal record, one text per view.

Views (one :class:`Description` each):

- ``composition``: formula, element families, oxidation states (when guessed), space group,
  crystal system, lattice parameters.
- ``structure``: coordination numbers and polyhedra, bond lengths, dimensionality, density,
  atoms per cell, prototype/mineral names from the record's labels.
- ``properties``: only when the record has known properties (or is hypothetical): each
  value in words and in numbers with units from :data:`clac_core.properties.QUANTITIES`.
- ``caption``: a short search-box style phrase, never the formula.
- ``query`` / ``query2``: formula-free property queries with numbers written many ways
  (:mod:`clac_core.text.queries`).
- ``robocrys`` (opt-in): robocrystallographer's full description (slow, ~2 s).

Texts never state a fact that is not known: no gap wording without a band gap, no
oxidation states unless guessed, no mineral or prototype name unless labelled.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clac_core.text import templates as T
from clac_core.text.facts import CrystalFacts, analyze
from clac_core.text.templates import Picker

if TYPE_CHECKING:
    from clac_core.record import CrystalRecord

VIEWS = ("composition", "structure", "properties", "caption", "query", "query2", "robocrys")


@dataclass(frozen=True)
class Description:
    """One synthetic text about a crystal.

    Attributes:
        view: which aspect the text covers (see module docstring).
        text: the text.
    """

    view: str
    text: str


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
    dens_s = f"{dens} {cell}."
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


# --------------------------------------------------------------------------------------
# properties


def _gap_words(gap: float) -> str:
    if gap == 0:
        return "metallic (no band gap)"
    if gap < 1.0:
        return "a narrow-gap semiconductor"
    if gap < 3.0:
        return "a semiconductor"
    if gap < 4.0:
        return "a wide-gap semiconductor"
    return "a wide-gap insulator"


def _fmt_q(name: str, value: float) -> str:
    from clac_core.properties import QUANTITIES

    q = QUANTITIES[name]
    unit = f" {q.unit}" if q.unit else ""
    return f"{value:.{q.decimals}f}{unit}"


def property_sentences(props: dict[str, float], p: Picker) -> list[tuple[str, str]]:
    """Phrases for the known properties, values in words and numbers.

    Returns:
        (kind, phrase) pairs; kind "is" for predicates ("metallic (no band gap)",
        "non-magnetic"), "has" for noun phrases ("a Fermi energy of 4.34 eV").
    """
    out: list[tuple[str, str]] = []
    if "band_gap" in props:
        g = props["band_gap"]
        if g == 0:
            out.append(
                (
                    "is",
                    p.choice(
                        "gap",
                        [
                            "metallic (no band gap)",
                            "a metal (band gap 0.00 eV)",
                            "metallic, with no band gap",
                            "a metallic conductor (zero band gap)",
                        ],
                    ),
                )
            )
        else:
            w, v = _gap_words(g), _fmt_q("band_gap", g)
            out.append(
                (
                    "is",
                    p.choice(
                        "gap",
                        [f"{w} with a band gap of {v}", f"{w} (band gap {v})", f"{w} whose band gap is {v}"],
                    ),
                )
            )
    for key, label in (("direct_gap", "direct"), ("indirect_gap", "indirect")):
        if key in props:
            g, v = props[key], _fmt_q(key, props[key])
            if g == 0:
                out.append(
                    ("has", p.choice(key, [f"no {label} gap ({v})", f"a zero {label} band gap ({v})"]))
                )
            else:
                out.append(
                    (
                        "has",
                        p.choice(
                            key,
                            [
                                f"{T.with_article(label)} band gap of {v}",
                                f"{T.with_article(label)} gap of {v}",
                            ],
                        ),
                    )
                )
    if "formation_energy_per_atom" in props:
        e = props["formation_energy_per_atom"]
        v = _fmt_q("formation_energy_per_atom", e)
        if e < -1.5:
            w = p.choice("efw", ["thermodynamically stable-looking", "strongly bound"])
            h = p.choice(
                "efh", [f"a strongly negative formation energy of {v}", f"a formation energy of {v}"]
            )
        elif e < 0:
            w = p.choice("efw", ["moderately stable-looking", "favourably formed from the elements"])
            h = p.choice("efh", [f"a negative formation energy of {v}", f"a formation energy of {v}"])
        else:
            w = p.choice("efw", ["unstable with respect to the elements", "energetically unfavourable"])
            h = p.choice("efh", [f"a positive formation energy of {v}", f"a formation energy of {v}"])
        out += [("is", w), ("has", h)]
    if "heat_of_formation" in props:
        v = _fmt_q("heat_of_formation", props["heat_of_formation"])
        out.append(
            ("has", p.choice("hof", [f"a heat of formation of {v}", f"a computed heat of formation of {v}"]))
        )
    if "energy_per_atom" in props:
        v = _fmt_q("energy_per_atom", props["energy_per_atom"])
        out.append(("has", p.choice("epa", [f"a DFT energy of {v}", f"a total energy of {v}"])))
    if "total_magnetization" in props:
        m = props["total_magnetization"]
        v = _fmt_q("total_magnetization", m)
        if abs(m) < 0.05:
            out.append(
                (
                    "is",
                    p.choice(
                        "mag",
                        [
                            f"non-magnetic (total magnetization {v})",
                            f"non-magnetic, without a net moment ({v})",
                            "non-magnetic",
                        ],
                    ),
                )
            )
        else:
            out.append(
                (
                    "is",
                    p.choice(
                        "mag",
                        [
                            f"magnetic, with a total magnetization of {v}",
                            f"magnetic ({v})",
                            f"magnetic and spin-polarized with a net moment of {v}",
                        ],
                    ),
                )
            )
    if "efermi" in props:
        v = _fmt_q("efermi", props["efermi"])
        out.append(("has", p.choice("ef", [f"a Fermi energy of {v}", f"its Fermi level at {v}"])))
    if "bulk_modulus" in props:
        k = props["bulk_modulus"]
        w = "stiff" if k >= 150 else ("soft" if k < 50 else "moderately stiff")
        out += [("is", w), ("has", f"a bulk modulus of {_fmt_q('bulk_modulus', k)}")]
    if "shear_modulus" in props:
        out.append(
            (
                "has",
                p.choice(
                    "G",
                    [
                        f"a shear modulus of {_fmt_q('shear_modulus', props['shear_modulus'])}",
                        f"shear modulus {_fmt_q('shear_modulus', props['shear_modulus'])}",
                    ],
                ),
            )
        )
    if "poisson_ratio" in props:
        out.append(("has", f"a Poisson's ratio of {_fmt_q('poisson_ratio', props['poisson_ratio'])}"))
    if "density" in props:
        out.append(("has", f"a reported density of {_fmt_q('density', props['density'])}"))
    return out


def _parent_name(record: CrystalRecord) -> str | None:
    for d, k in (
        (record.provenance, "parent"),
        (record.provenance, "prototype"),
        (record.labels, "prototype"),
    ):
        v = d.get(k)
        if v:
            return str(v)
    return None


def properties_text(record: CrystalRecord, f: CrystalFacts, p: Picker) -> str | None:
    props = {k: float(v) for k, v in record.properties.items() if v == v}
    phrases = property_sentences(props, p)
    hypo = ""
    if record.hypothetical:
        parent = _parent_name(record)
        hypo = p.choice(
            "hypo",
            [
                "It is hypothetical"
                + (
                    f", decorated from the {parent} prototype."
                    if parent
                    else ", generated by decoration and never computed."
                ),
                "This is a hypothetical crystal"
                + (
                    f" decorated from the {parent} prototype." if parent else " made by element substitution."
                ),
            ],
        )
    if not phrases and not hypo:
        return None
    if not phrases:
        return f"{f.formula}: {hypo}"
    is_p = p.shuffled("is_order", [x for k, x in phrases if k == "is"])
    has_p = p.shuffled("has_order", [x for k, x in phrases if k == "has"])
    listing = T.join_words(p.shuffled("porder", [x for _, x in phrases]))
    if is_p:
        body = "is " + T.join_words(is_p)
        if has_p:
            body += p.choice("hasjoin", [", with ", "; it has ", " and has "]) + T.join_words(has_p)
    else:
        body = "has " + T.join_words(has_p)
    F = p.choice(
        "formula_ref",
        [f.formula, f"Composition {f.formula}", f"The compound {f.formula}", f"Crystalline {f.formula}"],
    )
    frames = [
        lambda: f"{F} {body}.",
        lambda: f"Properties of {f.formula}: {listing}.",
        lambda: f"Computed (DFT) properties of {f.formula}: {listing}.",
        lambda: f"{F} — {listing}.",
        lambda: f"According to DFT, {f.formula} {body}.",
        lambda: f"Electronic and energetic character of {f.formula}: {listing}.",
        lambda: f"In DFT calculations {f.formula} {body}.",
        lambda: f"DFT data for {f.formula}: {listing}.",
        lambda: f"What is known about {f.formula}: it {body}.",
        lambda: f"{F} {body}, according to the computed data.",
        lambda: f"Calculated properties — {f.formula}: {listing}.",
    ]
    text = frames[p.index("frame", len(frames))]()
    return f"{text} {hypo}".strip()


# --------------------------------------------------------------------------------------
# caption


def _prototype_word(f: CrystalFacts, record: CrystalRecord) -> str | None:
    name = f.labels.get("prototype") or f.labels.get("mineral")
    if not name and record.source == "perov_5":  # the Perov-5 set contains only ABX3 perovskites
        name = "perovskite"
    return name.lower() if name else None


def caption_text(record: CrystalRecord, f: CrystalFacts, p: Picker) -> str:
    """A short search-box phrase: a few qualifiers + a noun (+ a gap tail), never the formula."""
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

    # qualifiers, each a known fact
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
        quals.append("magnetic" if abs(mag) >= 0.05 else "non-magnetic")
    if record.hypothetical:
        quals.append("hypothetical")

    gap = record.properties.get("band_gap", record.properties.get("indirect_gap"))
    tails: list[str] = []
    if gap is not None:
        if gap == 0:
            quals.append("metallic")
            tails.append(p.choice("metal_tail", ["metal", "with no band gap", "conductor"]))
        elif gap < 1.5:
            tails.append(
                p.choice("gap_tail", ["with a small band gap", "semiconductor", "narrow-gap semiconductor"])
            )
        elif gap < 3.0:
            tails.append(p.choice("gap_tail", ["semiconductor", "with a moderate band gap"]))
        else:
            tails.append(p.choice("gap_tail", ["with a wide band gap", "wide-gap insulator", "insulator"]))

    q = p.shuffled("quals", quals)
    tail = tails[0] if tails else ""
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


# --------------------------------------------------------------------------------------
# robocrys


def robocrys_text(structure) -> str:
    """Full robocrystallographer description (slow: seconds per structure)."""
    try:
        from robocrys import StructureCondenser, StructureDescriber
    except ImportError as e:  # pragma: no cover - robocrys is in requirements.txt
        raise RuntimeError("robocrys=True needs the robocrys package (pip install robocrys)") from e
    condensed = StructureCondenser().condense_structure(structure)
    return StructureDescriber().describe(condensed)


# --------------------------------------------------------------------------------------
# entry point


def describe(
    record: CrystalRecord,
    *,
    seed: int = 0,
    robocrys: bool = False,
    facts: CrystalFacts | None = None,
    query_views: bool = True,
) -> list[Description]:
    """Synthetic descriptions of a crystal, one per view.

    Args:
        record: the crystal and what is known about it.
        seed: phrasing seed; phrasing is a pure function of (seed, record.id, view).
        robocrys: also add a "robocrys" view (slow, seconds per crystal).
        facts: precomputed :func:`analyze` output for ``record.structure`` (saves time).
        query_views: add the formula-free property queries (``query``, ``query2``; see
            :mod:`clac_core.text.queries`).

    Returns:
        Descriptions in view order: composition, structure, [properties], caption,
        [query, query2], [robocrys].
    """
    if facts is None:
        facts = analyze(record.structure, labels=record.labels)
    elif record.labels and not facts.labels:
        facts = dataclasses.replace(facts, labels=dict(record.labels))  # never mutate the caller's facts

    def picker(view: str) -> Picker:
        return Picker(seed, f"{record.id}|{view}")

    out = [
        Description("composition", composition_text(facts, picker("composition"))),
        Description("structure", structure_text(facts, picker("structure"))),
    ]
    props = properties_text(record, facts, picker("properties"))
    if props:
        out.append(Description("properties", props))
    out.append(Description("caption", caption_text(record, facts, picker("caption"))))
    if query_views:
        from clac_core.text.queries import query_texts

        out += [Description(v, t) for v, t in query_texts(record, facts, seed)]
    if robocrys:
        out.append(Description("robocrys", robocrys_text(record.structure)))
    return out
