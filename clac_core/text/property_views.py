"""The ``properties`` view: known property values in words and in numbers with units.

Written only when the record has known properties (or is hypothetical); units and decimals
come from :data:`clac_core.properties.QUANTITIES`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clac_core.text import templates as T
from clac_core.text.templates import Picker
from clac_core.vocab.classes import (
    BULK_LADDER,
    MODERATELY_STIFF,
    NON_MAGNETIC,
    STRONGLY_BOUND,
    UNSTABLE,
    gap_word,
    word_for,
)

if TYPE_CHECKING:
    from clac_core.record import CrystalRecord
    from clac_core.text.facts import CrystalFacts


# --------------------------------------------------------------------------------------
# properties


def _gap_words(gap: float) -> str:
    word = gap_word(gap)
    return "metallic (no band gap)" if word == "metallic" else T.with_article(word)


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
        out.append(("is", _band_gap_phrase(props["band_gap"], p)))
    out += _direct_indirect_gap_phrases(props, p)
    out += _energy_phrases(props, p)
    if "total_magnetization" in props:
        out.append(("is", _magnetization_phrase(props["total_magnetization"], p)))
    if "efermi" in props:
        v = _fmt_q("efermi", props["efermi"])
        out.append(("has", p.choice("ef", [f"a Fermi energy of {v}", f"its Fermi level at {v}"])))
    if "bulk_modulus" in props:
        k = props["bulk_modulus"]
        w = (word_for("bulk_modulus", k, BULK_LADDER) or MODERATELY_STIFF).name  # NaN: as before
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


def _band_gap_phrase(g: float, p: Picker) -> str:
    """The band gap as a predicate ("a semiconductor with a band gap of 1.10 eV")."""
    if g == 0:
        return p.choice(
            "gap",
            [
                "metallic (no band gap)",
                "a metal (band gap 0.00 eV)",
                "metallic, with no band gap",
                "a metallic conductor (zero band gap)",
            ],
        )
    w, v = _gap_words(g), _fmt_q("band_gap", g)
    return p.choice(
        "gap",
        [f"{w} with a band gap of {v}", f"{w} (band gap {v})", f"{w} whose band gap is {v}"],
    )


def _direct_indirect_gap_phrases(props: dict[str, float], p: Picker) -> list[tuple[str, str]]:
    """("has", phrase) for the direct and the indirect gap, when known."""
    out: list[tuple[str, str]] = []
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
    return out


def _energy_phrases(props: dict[str, float], p: Picker) -> list[tuple[str, str]]:
    """Formation energy (in words and numbers), heat of formation and DFT energy, when known."""
    out: list[tuple[str, str]] = []
    if "formation_energy_per_atom" in props:
        e = props["formation_energy_per_atom"]
        v = _fmt_q("formation_energy_per_atom", e)
        if STRONGLY_BOUND.contains(e):
            w = p.choice("efw", ["thermodynamically stable-looking", "strongly bound"])
            h = p.choice(
                "efh", [f"a strongly negative formation energy of {v}", f"a formation energy of {v}"]
            )
        elif not UNSTABLE.contains(e):
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
    return out


def _magnetization_phrase(m: float, p: Picker) -> str:
    """The total magnetization as a predicate ("non-magnetic", "magnetic (2.00 μB)")."""
    v = _fmt_q("total_magnetization", m)
    if NON_MAGNETIC.contains(abs(m)):
        return p.choice(
            "mag",
            [
                f"non-magnetic (total magnetization {v})",
                f"non-magnetic, without a net moment ({v})",
                "non-magnetic",
            ],
        )
    return p.choice(
        "mag",
        [
            f"magnetic, with a total magnetization of {v}",
            f"magnetic ({v})",
            f"magnetic and spin-polarized with a net moment of {v}",
        ],
    )


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
