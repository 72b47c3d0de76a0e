"""Phrasings for the synthetic description views.

Every choice (sentence frame, synonym, sentence order) is drawn by a :class:`Picker`, a
hash-based chooser keyed on (seed, crystal id, view, slot), so texts are deterministic across
processes but vary between crystals and seeds. Each view has at least ten frames.

Numbers are always written from :class:`~clac_core.text.facts.CrystalFacts` or the record's
properties with fixed decimals (lattice lengths, bond lengths, density: 2; angles: 1;
volume: 1; properties: ``Quantity.decimals``), so tests can check every number in a text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

from clac_core.text.facts import CrystalFacts
from clac_core.vocab.elements import NAMES

T = TypeVar("T")

ANG = "Å"


class Picker:
    """Deterministic chooser: the same (seed, key, slot) always picks the same option."""

    def __init__(self, seed: int, key: str) -> None:
        self.seed = int(seed)
        self.key = key

    def _h(self, slot: str) -> int:
        msg = f"{self.seed}|{self.key}|{slot}".encode()
        return int.from_bytes(hashlib.sha256(msg).digest()[:8], "big")

    def choice(self, slot: str, options: Sequence[T]) -> T:
        """Pick one of ``options`` for ``slot``."""
        if not options:
            raise ValueError(f"no options for slot {slot!r}")
        return options[self._h(slot) % len(options)]

    def index(self, slot: str, n: int) -> int:
        """Pick an index in ``range(n)`` for ``slot``."""
        return self._h(slot) % n

    def coin(self, slot: str) -> bool:
        """A fair deterministic coin."""
        return bool(self._h(slot) & 1)

    def shuffled(self, slot: str, items: Sequence[T]) -> list[T]:
        """A deterministic permutation of ``items``."""
        keyed = [(self._h(f"{slot}:{i}"), i) for i in range(len(items))]
        return [items[i] for _, i in sorted(keyed)]


# --------------------------------------------------------------------------------------
# Small wording helpers


def join_words(items: Sequence[str], conj: str = "and") -> str:
    """ "a", "a and b", "a, b and c"."""
    items = list(items)
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {conj} {items[-1]}"


def article(word: str) -> str:
    """ "a" or "an" for the word that follows."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def with_article(word: str) -> str:
    return f"{article(word)} {word}"


def element_name(symbol: str) -> str:
    """ "iron" for "Fe" (the element table's lower-case English name)."""
    return NAMES[symbol]


def ox_token(symbol: str, state: int) -> str:
    """ "Ti4+", "Na+", "O2-"."""
    sign = "+" if state > 0 else "-"
    mag = abs(state)
    return f"{symbol}{'' if mag == 1 else mag}{sign}"


def fmt_len(x: float) -> str:
    return f"{x:.2f} {ANG}"


def fmt_angle(x: float) -> str:
    return f"{x:.1f}°"


def lattice_phrase(f: CrystalFacts, p: Picker) -> str:
    """Lattice parameters worded for the crystal system (conventional cell)."""
    eq = p.choice("lat_eq", [" = ", "="])
    a, b, c = (fmt_len(v) for v in (f.a, f.b, f.c))
    s = f.crystal_system
    if s == "cubic":
        return f"a{eq}{a}"
    if s in {"tetragonal", "hexagonal", "trigonal"}:
        return f"a{eq}{a} and c{eq}{c}"
    if s == "orthorhombic":
        return f"a{eq}{a}, b{eq}{b} and c{eq}{c}"
    if s == "monoclinic":
        return f"a{eq}{a}, b{eq}{b}, c{eq}{c} and β{eq}{fmt_angle(f.beta)}"
    return (
        f"a{eq}{a}, b{eq}{b}, c{eq}{c}, α{eq}{fmt_angle(f.alpha)}, "
        f"β{eq}{fmt_angle(f.beta)} and γ{eq}{fmt_angle(f.gamma)}"
    )


def spacegroup_phrase(f: CrystalFacts, p: Picker) -> str:
    return p.choice(
        "sg",
        [
            f"space group {f.spacegroup_symbol} (No. {f.spacegroup_number})",
            f"space group {f.spacegroup_symbol} (number {f.spacegroup_number})",
            f"the {f.spacegroup_symbol} space group (#{f.spacegroup_number})",
            f"space group no. {f.spacegroup_number}, {f.spacegroup_symbol}",
        ],
    )


def families_phrase(f: CrystalFacts, p: Picker) -> str:
    parts = []
    by_fam: dict[str, list[str]] = {}
    for e in f.elements:
        by_fam.setdefault(f.families[e], []).append(e)
    for fam, els in by_fam.items():
        if len(els) == 1:
            parts.append(f"{with_article(fam)} ({els[0]})")
        else:
            plural = fam.replace("metal", "metals") if fam.endswith("metal") else fam + "s"
            parts.append(f"the {plural} {join_words(els)}")
    return join_words(parts)


def oxidation_phrase(f: CrystalFacts) -> str | None:
    if not f.oxidation_states:
        return None
    toks = [ox_token(e, f.oxidation_states[e]) for e in f.elements if e in f.oxidation_states]
    return join_words(toks)


# --------------------------------------------------------------------------------------
# Local environment wording


def site_phrase(site, p: Picker, slot: str) -> str:
    """One site's environment, e.g. "Ti is octahedrally coordinated by 6 O"."""
    nb = join_words([f"{n} {e}" for e, n in site.neighbors.items()])
    poly = site.polyhedron
    if poly in {"single-bonded"} or site.cn == 0:
        poly = None
    if poly is None:
        return p.choice(
            slot,
            [
                f"{site.element} has {site.cn} {'neighbour' if site.cn == 1 else 'neighbours'} ({nb})",
                f"{site.element} is {site.cn}-coordinate, bonded to {nb}",
                f"{site.element} sits in a {site.cn}-fold environment of {nb}",
            ],
        )
    return p.choice(
        slot,
        [
            f"{site.element} sits in {with_article(poly)} site with coordination number {site.cn} ({nb})",
            f"{site.element} is {site.cn}-coordinated by {nb} in {with_article(poly)} geometry",
            f"{site.element} occupies {with_article(poly)} site bonded to {nb}",
            f"{site.element} has {with_article(poly)} environment: {site.cn} {'neighbour' if site.cn == 1 else 'neighbours'} ({nb})",
        ],
    )


def local_sentences(f: CrystalFacts, p: Picker, max_sites: int = 4) -> list[str]:
    """Sentences for the distinct sites (merging equal environments of one element)."""
    seen: set[tuple] = set()
    out = []
    for k, s in enumerate(f.sites):
        key = (s.element, s.cn, s.polyhedron, tuple(s.neighbors.items()))
        if key in seen or s.cn == 0:
            continue
        seen.add(key)
        out.append(site_phrase(s, p, f"site{k}"))
        if len(out) >= max_sites:
            break
    return out


def bond_sentence(f: CrystalFacts, p: Picker, max_pairs: int = 3) -> str | None:
    if not f.bond_lengths:
        return None
    parts = []
    for pair, (lo, hi) in list(f.bond_lengths.items())[:max_pairs]:
        a, b = pair.split("-")
        name = f"{a}–{b}"
        if round(lo, 2) == round(hi, 2):
            parts.append(
                p.choice(f"bond:{pair}", [f"{name} {fmt_len(lo)}", f"{name} bonds of {fmt_len(lo)}"])
            )
        else:
            parts.append(
                p.choice(
                    f"bond:{pair}",
                    [f"{name} from {lo:.2f} to {fmt_len(hi)}", f"{name} between {lo:.2f} and {fmt_len(hi)}"],
                )
            )
    lead = p.choice("bondlead", ["Bond lengths: ", "Typical bond lengths are ", "Its bonds measure "])
    return lead + join_words(parts) + "."


DIM_PHRASES: dict[int, list[str]] = {
    0: ["is molecular (zero-dimensional)", "consists of isolated molecular units", "forms discrete clusters"],
    1: [
        "is built from one-dimensional chains",
        "forms chain-like (one-dimensional) units",
        "is a chain structure",
    ],
    2: ["is layered (two-dimensional)", "forms stacked layers", "is a layered, two-dimensional structure"],
    3: [
        "is a three-dimensional framework",
        "forms a framework connected in three dimensions",
        "is bonded in all three dimensions",
    ],
}


def label_sentence(f: CrystalFacts, p: Picker) -> str | None:
    parts = []
    if "mineral" in f.labels:
        parts.append(
            p.choice("min", [f"the mineral {f.labels['mineral']}", f"{f.labels['mineral']} (mineral)"])
        )
    if "prototype" in f.labels:
        parts.append(
            p.choice(
                "proto",
                [f"the {f.labels['prototype']} prototype", f"the {f.labels['prototype']} structure type"],
            )
        )
    if "strukturbericht" in f.labels:
        parts.append(f"Strukturbericht type {f.labels['strukturbericht']}")
    if not parts:
        return None
    return (
        p.choice("labellead", ["It is related to ", "Structure type: ", "It adopts "])
        + join_words(parts)
        + "."
    )


Frame = Callable[[dict[str, str]], str]
