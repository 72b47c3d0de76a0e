"""The element table: symbols, names, families, metal / non-metal, anion and oxoanion names.

The one home of element words for the whole project: the text writers (``text/``), the query
reader (``query/``), the index filters, the formula-free eval and the decorated-prototype
generator all import from here. Plain Python, no pymatgen import (pymatgen takes ~1 s to load);
``tests/test_vocab.py`` checks every element against pymatgen's own flags.
"""

from __future__ import annotations

# Element symbols by atomic number (index 0 unused).
SYMBOLS: tuple[str, ...] = ("",) + tuple(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br "
    "Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er "
    "Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md "
    "No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og".split()
)
# English names (lower case, as pymatgen spells them: "aluminum", "cesium"), by atomic number.
_NAMES = (
    "hydrogen helium lithium beryllium boron carbon nitrogen oxygen fluorine neon sodium magnesium "
    "aluminum silicon phosphorus sulfur chlorine argon potassium calcium scandium titanium vanadium "
    "chromium manganese iron cobalt nickel copper zinc gallium germanium arsenic selenium bromine "
    "krypton rubidium strontium yttrium zirconium niobium molybdenum technetium ruthenium rhodium "
    "palladium silver cadmium indium tin antimony tellurium iodine xenon cesium barium lanthanum "
    "cerium praseodymium neodymium promethium samarium europium gadolinium terbium dysprosium holmium "
    "erbium thulium ytterbium lutetium hafnium tantalum tungsten rhenium osmium iridium platinum gold "
    "mercury thallium lead bismuth polonium astatine radon francium radium actinium thorium "
    "protactinium uranium neptunium plutonium americium curium berkelium californium einsteinium "
    "fermium mendelevium nobelium lawrencium rutherfordium dubnium seaborgium bohrium hassium "
    "meitnerium darmstadtium roentgenium copernicium nihonium flerovium moscovium livermorium "
    "tennessine oganesson"
).split()
NAMES: dict[str, str] = dict(zip(SYMBOLS[1:], _NAMES, strict=True))
# Other spellings a reader meets (British / IUPAC); they map to the same symbol.
NAME_ALIASES: dict[str, str] = {"aluminium": "Al", "caesium": "Cs", "sulphur": "S"}
SYMBOL_OF_NAME: dict[str, str] = {**{n: s for s, n in NAMES.items()}, **NAME_ALIASES}
ATOMIC_NUMBER: dict[str, int] = {s: z for z, s in enumerate(SYMBOLS) if s}
# Hydrogen isotopes that structure files (and pymatgen) accept as species symbols.
ISOTOPE_SYMBOLS: tuple[str, ...] = ("D", "T")

# --------------------------------------------------------------------------------------
# Families: every element has exactly one primary family, so texts never contradict
# themselves (Te is a chalcogen, As a pnictogen, Bi a post-transition metal). Where pymatgen
# gives an element two flags (Te: metalloid and chalcogen) the primary family is the one a
# chemist names first; metal / non-metal always agrees with pymatgen's ``is_metal``.
_FAMILY_MEMBERS: dict[str, frozenset[str]] = {
    "alkali metal": frozenset({"Li", "Na", "K", "Rb", "Cs", "Fr"}),
    "alkaline-earth metal": frozenset({"Be", "Mg", "Ca", "Sr", "Ba", "Ra"}),
    "lanthanide": frozenset(
        {"La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"}
    ),
    "actinide": frozenset(
        {"Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr"}
    ),
    "chalcogen": frozenset({"O", "S", "Se", "Te"}),
    "halogen": frozenset({"F", "Cl", "Br", "I", "At"}),
    "pnictogen": frozenset({"N", "P", "As"}),
    "metalloid": frozenset({"B", "Si", "Ge", "Sb", "Po"}),
    "post-transition metal": frozenset({"Al", "Ga", "In", "Sn", "Tl", "Pb", "Bi"}),
    "noble gas": frozenset({"He", "Ne", "Ar", "Kr", "Xe", "Rn", "Og"}),
    "nonmetal": frozenset({"H", "C"}),
    # Nh-Ts: made a few atoms at a time; no chemistry to name, neither metal nor non-metal here
    "superheavy element": frozenset({"Nh", "Fl", "Mc", "Lv", "Ts"}),
}
_FAMILY_OF: dict[str, str] = {s: fam for fam, members in _FAMILY_MEMBERS.items() for s in members}
FAMILIES: tuple[str, ...] = (*_FAMILY_MEMBERS, "transition metal")
# Families whose elements are metals (pymatgen's ``is_metal``).
METAL_FAMILIES: frozenset[str] = frozenset(
    {"alkali metal", "alkaline-earth metal", "lanthanide", "actinide", "post-transition metal", "transition metal"}
)
# Textbook sets a reader names that are not primary families.
CHALCOGENIDE_ANIONS: tuple[str, ...] = ("S", "Se", "Te")  # "chalcogenide" excludes oxides
PNICTIDE_ANIONS: tuple[str, ...] = ("N", "P", "As", "Sb", "Bi")
NOBLE_METALS: tuple[str, ...] = ("Ru", "Rh", "Pd", "Ag", "Os", "Ir", "Pt", "Au")
RARE_EARTHS: tuple[str, ...] = ("Sc", "Y", *sorted(_FAMILY_MEMBERS["lanthanide"]))


def is_element(symbol: str) -> bool:
    """True for a symbol of the periodic table, exactly as written ("Fe", not "fe")."""
    return symbol in ATOMIC_NUMBER


def element_family(symbol: str) -> str:
    """Primary chemical family of an element: "alkali metal", "halogen", "transition metal" ...

    Groups 3-12 (Sc-Zn, Y-Cd, Hf-Hg, Rf-Cn) are "transition metal"; the lanthanides and
    actinides have families of their own. KeyError for a symbol that is not an element.
    """
    if symbol not in ATOMIC_NUMBER:
        raise KeyError(f"not an element symbol: {symbol!r}")
    return _FAMILY_OF.get(symbol, "transition metal")


def is_metal(symbol: str) -> bool:
    """Metal by its family (alkali ... post-transition metals, lanthanides, actinides,
    transition metals); H, C, the metalloids, halogens, noble gases are not. Same answer as
    pymatgen's ``Element.is_metal`` for every element."""
    return element_family(symbol) in METAL_FAMILIES


def family_members(family: str) -> tuple[str, ...]:
    """Element symbols of a primary family, in atomic-number order."""
    if family not in FAMILIES:
        raise KeyError(f"not an element family: {family!r}")
    return tuple(s for s in SYMBOLS[1:] if element_family(s) == family)


# --------------------------------------------------------------------------------------
# Anions

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
# Oxoanion-forming centres (X bonded to O only, with this coordination) -> salt name.
OXOANIONS: dict[tuple[str, int], str] = {
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
# Salt names a reader meets -> the elements a compound of that class contains (the anion
# words of ANION_NAMES plus the oxoanions, and the selenate the writers never produce).
ANION_CLASS_ELEMENTS: dict[str, tuple[str, ...]] = {
    **{name: (el,) for el, name in ANION_NAMES.items()},
    **{name: (centre, "O") for (centre, _), name in OXOANIONS.items()},
    "selenate": ("Se", "O"),
}

# --------------------------------------------------------------------------------------
# Pauling electronegativity (pymatgen's ``Element.X``; 0.0 where none is defined: noble gases
# but Kr / Xe / Rn, and the elements from Rf on). Tabulated so that composition rules need no
# pymatgen import.
_X = (
    "H=2.20 He=0 Li=0.98 Be=1.57 B=2.04 C=2.55 N=3.04 O=3.44 F=3.98 Ne=0 Na=0.93 Mg=1.31 Al=1.61 "
    "Si=1.90 P=2.19 S=2.58 Cl=3.16 Ar=0 K=0.82 Ca=1.00 Sc=1.36 Ti=1.54 V=1.63 Cr=1.66 Mn=1.55 "
    "Fe=1.83 Co=1.88 Ni=1.91 Cu=1.90 Zn=1.65 Ga=1.81 Ge=2.01 As=2.18 Se=2.55 Br=2.96 Kr=3.00 Rb=0.82 "
    "Sr=0.95 Y=1.22 Zr=1.33 Nb=1.60 Mo=2.16 Tc=1.90 Ru=2.20 Rh=2.28 Pd=2.20 Ag=1.93 Cd=1.69 In=1.78 "
    "Sn=1.96 Sb=2.05 Te=2.10 I=2.66 Xe=2.60 Cs=0.79 Ba=0.89 La=1.10 Ce=1.12 Pr=1.13 Nd=1.14 Pm=1.13 "
    "Sm=1.17 Eu=1.20 Gd=1.20 Tb=1.10 Dy=1.22 Ho=1.23 Er=1.24 Tm=1.25 Yb=1.10 Lu=1.27 Hf=1.30 Ta=1.50 "
    "W=2.36 Re=1.90 Os=2.20 Ir=2.20 Pt=2.28 Au=2.54 Hg=2.00 Tl=1.62 Pb=2.33 Bi=2.02 Po=2.00 At=2.20 "
    "Rn=2.20 Fr=0.70 Ra=0.90 Ac=1.10 Th=1.30 Pa=1.50 U=1.38 Np=1.36 Pu=1.28 Am=1.30 Cm=1.30 Bk=1.30 "
    "Cf=1.30 Es=1.30 Fm=1.30 Md=1.30 No=1.30 Lr=1.30"
)
ELECTRONEGATIVITY: dict[str, float] = {
    **{s: 0.0 for s in SYMBOLS[1:]},
    **{k: float(v) for k, v in (kv.split("=") for kv in _X.split())},
}

# Anion centres that are covalently bound to O in oxoanions and hydroxides (S in a sulfate, H
# in a hydroxide): when O is the main anion they count as anions only where the neighbour
# distances say so (``text.chemistry.refine_anions``).
_OXO_BOUND = frozenset({"S", "Se", "Te", "N", "Cl", "Br", "I", "H"})
_STRONG_ANIONS = frozenset({"O", "N", "F", "Cl", "Br", "I", "S", "Se", "Te", "H"})


def composition_anions(elements: list[str] | tuple[str, ...]) -> list[str]:
    """Anion elements of a composition, most electronegative first: the most electronegative
    non-metal of :data:`ANION_NAMES` when a less electronegative element is present, plus other
    strong anions clearly more electronegative than every metal ("oxide fluoride", "oxynitride").
    """
    if len(elements) < 2:
        return []
    cand = [e for e in elements if e in ANION_NAMES and not is_metal(e)]
    if not cand:
        return []
    x = {e: ELECTRONEGATIVITY[e] for e in elements}
    xmin = min(x.values())
    most = max(cand, key=lambda e: x[e])
    if x[most] <= xmin:
        return []
    anions = [most]
    metals_x = [x[e] for e in elements if is_metal(e)] or [xmin]
    for e in cand:
        if e != most and e in _STRONG_ANIONS and x[e] > max(metals_x) + 0.3:
            if e in _OXO_BOUND and most == "O":  # an oxoanion centre or hydroxide H, not an anion
                continue
            anions.append(e)
    anions.sort(key=lambda e: -x[e])
    return anions


# --------------------------------------------------------------------------------------
# composition arity: the number of distinct elements, as materials papers name it ("binary
# compound", "ternary oxide", "quaternary chalcogenide"); the query reader reads these words
# and the search-box requests of the training texts write them

ARITY_WORDS: dict[str, int] = {"elemental": 1, "unary": 1, "binary": 2, "ternary": 3, "quaternary": 4, "quinary": 5}
COUNT_WORDS: dict[int, str] = {2: "two", 3: "three", 4: "four", 5: "five"}
# number of distinct elements (2-5) -> (the -ary adjective, the counted adjective)
ARITY_ADJECTIVES: dict[int, tuple[str, str]] = {
    n: (ary, f"{COUNT_WORDS[n]}-element") for ary, n in ARITY_WORDS.items() if n in COUNT_WORDS
}


def arity_words(n_elements: int) -> tuple[str, ...]:
    """Adjectives for a compound of ``n_elements`` distinct elements ("ternary", "three-element");
    empty outside 2-5 (one element is "elemental", which the writers say otherwise)."""
    return ARITY_ADJECTIVES.get(n_elements, ())
