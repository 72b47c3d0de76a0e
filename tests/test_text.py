"""Tests for clac_core.text: crystal facts and synthetic descriptions.

The number-honesty test recomputes every number a text may state from the record with
independent pymatgen code (SpacegroupAnalyzer, get_all_neighbors, Composition) and checks that
each number in the generated texts is one of them.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from clac_core.properties import COLUMN_ALIASES, QUANTITIES
from clac_core.record import CrystalRecord
from clac_core.text import CrystalFacts, Description, analyze, crystal_system_of, describe

# ---------------------------------------------------------------------------------------
# structures built in code


def nacl() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def si_diamond() -> Structure:
    return Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]]
    ).get_primitive_structure()


def srtio3() -> Structure:
    return Structure(
        Lattice.cubic(3.905),
        ["Sr", "Ti", "O", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


def graphite() -> Structure:
    return Structure.from_spacegroup(
        "P6_3/mmc", Lattice.hexagonal(2.46, 6.70), ["C", "C"], [[0, 0, 0.25], [1 / 3, 2 / 3, 0.25]]
    )


# ---------------------------------------------------------------------------------------
# real records from the shared data


def _records_from_csv(path: Path, source: str, n: int, max_sites: int = 60, **read_kw) -> list[CrystalRecord]:
    df = pd.read_csv(path, nrows=n * 3, **read_kw)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _, row in df.iterrows():
            s = Structure.from_str(row["cif"], fmt="cif")
            if len(s) > max_sites:
                continue
            props = {
                COLUMN_ALIASES[c]: float(row[c])
                for c in df.columns
                if c in COLUMN_ALIASES and pd.notna(row[c])
            }
            out.append(
                CrystalRecord(id=str(row["material_id"]), structure=s, source=source, properties=props)
            )
            if len(out) >= n:
                break
    return out


@pytest.fixture(scope="module")
def real_records(shared_data: Path) -> list[CrystalRecord]:
    recs = _records_from_csv(shared_data / "perov_5" / "test.csv", "perov_5", 60)
    recs += _records_from_csv(shared_data / "mp_37k" / "structures.csv.gz", "mp_37k", 110)
    recs += _records_from_csv(shared_data / "mp_37k" / "elastic.csv.gz", "mp_37k", 20)
    recs += _records_from_csv(shared_data / "carbon_24" / "test.csv", "carbon_24", 10)
    assert len(recs) == 200
    return recs


# ---------------------------------------------------------------------------------------
# physical facts


def test_nacl_octahedral_cubic_225() -> None:
    f = analyze(nacl())
    assert isinstance(f, CrystalFacts)
    assert f.formula == "NaCl"
    assert f.spacegroup_number == 225 and f.spacegroup_symbol == "Fm-3m"
    assert f.crystal_system == "cubic"
    assert f.a == pytest.approx(5.64, abs=1e-6)
    assert {s.element: s.cn for s in f.sites} == {"Na": 6, "Cl": 6}
    assert all(s.polyhedron == "octahedral" for s in f.sites)
    assert f.bond_lengths["Cl-Na"] == pytest.approx((2.82, 2.82), abs=1e-6)
    assert f.oxidation_states == {"Na": 1, "Cl": -1}
    assert f.anion_class == "chloride"
    assert f.families == {"Na": "alkali metal", "Cl": "halogen"}
    assert f.dimensionality == 3
    texts = {d.view: d.text for d in describe(CrystalRecord("nacl", nacl(), "test"))}
    assert "Fm-3m" in texts["composition"] and "225" in texts["composition"]
    assert "cubic" in texts["composition"]
    assert "octahedral" in texts["structure"] and "6" in texts["structure"]


def test_si_diamond_tetrahedral() -> None:
    f = analyze(si_diamond())
    assert f.spacegroup_number == 227
    assert [(s.element, s.cn, s.polyhedron) for s in f.sites] == [("Si", 4, "tetrahedral")]
    assert f.bond_lengths["Si-Si"][0] == pytest.approx(5.431 * np.sqrt(3) / 4, abs=1e-3)
    assert f.anion_class == "element" and f.oxidation_states is None
    assert crystal_system_of(si_diamond()) == "cubic"


def test_perovskite_sites_and_oxidation_states() -> None:
    f = analyze(srtio3())
    env = {s.element: (s.cn, s.polyhedron) for s in f.sites}
    assert env == {"Sr": (12, "cuboctahedral"), "Ti": (6, "octahedral"), "O": (2, "linear")}
    assert f.oxidation_states == {"Sr": 2, "Ti": 4, "O": -2}
    assert f.spacegroup_symbol == "Pm-3m"


def test_graphite_is_layered() -> None:
    f = analyze(graphite())
    assert f.dimensionality == 2 and f.dimensionality_word == "layered"
    assert [s.cn for s in f.sites] == [3, 3]
    assert all(s.polyhedron == "trigonal planar" for s in f.sites)


def test_supercell_and_permutation_do_not_change_facts() -> None:
    s = srtio3()
    big = s.copy()
    big.make_supercell([2, 1, 1])
    perm = Structure.from_sites([s[i] for i in [3, 1, 4, 0, 2]])
    base = analyze(s)
    for other in (analyze(big), analyze(perm)):
        assert other.spacegroup_number == base.spacegroup_number
        assert sorted((x.element, x.cn) for x in other.sites) == sorted((x.element, x.cn) for x in base.sites)
        assert other.dimensionality == base.dimensionality
        assert other.density == pytest.approx(base.density)


def test_disordered_structure_is_rejected() -> None:
    s = Structure(Lattice.cubic(3.0), [{"Fe": 0.5, "Co": 0.5}], [[0, 0, 0]])
    with pytest.raises(ValueError, match="ordered"):
        analyze(s)


# ---------------------------------------------------------------------------------------
# descriptions


def test_views_and_description_type() -> None:
    rec = CrystalRecord("sto", srtio3(), "test", properties={"band_gap": 1.8})
    ds = describe(rec)
    assert all(isinstance(d, Description) for d in ds)
    assert [d.view for d in ds] == ["composition", "structure", "properties", "caption", "query", "query2", "search", "statements"]
    for d in ds[:3]:
        assert "SrTiO3" in d.text
    for d in ds[3:]:  # captions and property queries never name the formula
        assert "SrTiO3" not in d.text


def test_no_properties_view_without_properties() -> None:
    rec = CrystalRecord("sto", srtio3(), "test")
    views = [d.view for d in describe(rec)]
    assert "properties" not in views
    for seed in range(20):
        text = " ".join(d.text for d in describe(rec, seed=seed)).lower()
        for word in (
            "band gap",
            "metallic",
            "semiconductor",
            "insulator",
            "magnetic",
            "formation energy",
            "conductor",
        ):
            assert word not in text, (word, text)


def test_metal_wording_for_zero_gap() -> None:
    rec = CrystalRecord(
        "fe",
        Structure(Lattice.cubic(2.87), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "test",
        properties={"band_gap": 0.0, "total_magnetization": 4.4},
    )
    for seed in range(10):
        props = {d.view: d.text for d in describe(rec, seed=seed)}["properties"]
        assert "metal" in props.lower()
        assert "semiconductor" not in props and "insulator" not in props
        assert "magnetic" in props


def test_gap_wording_for_insulator() -> None:
    rec = CrystalRecord("nacl", nacl(), "test", properties={"band_gap": 5.01})
    for seed in range(10):
        props = {d.view: d.text for d in describe(rec, seed=seed)}["properties"]
        assert "insulator" in props and "5.01 eV" in props and "metal" not in props


def test_hypothetical_record_says_so() -> None:
    rec = CrystalRecord(
        "dec:1", srtio3(), "decorated", provenance={"parent": "perovskite"}, hypothetical=True
    )
    props = {d.view: d.text for d in describe(rec)}["properties"]
    assert "hypothetical" in props and "perovskite" in props


def test_perovskite_caption_when_labelled() -> None:
    rec = CrystalRecord("sto", srtio3(), "test", labels={"prototype": "perovskite"})
    for seed in range(15):
        cap = {d.view: d.text for d in describe(rec, seed=seed)}["caption"]
        assert "perovskite" in cap
    # without the label the prototype is named only where the rules of vocab.structure_types
    # compute it: the search-box requests (SrTiO3: corner-sharing TiO6 octahedra, Sr 12-fold)
    plain = CrystalRecord("sto", srtio3(), "test")
    for seed in range(15):
        texts = describe(plain, seed=seed, search_texts=4)
        assert "perovskite" not in " ".join(d.text for d in texts if d.view != "search")
    assert any("perovskite" in d.text for s in range(15) for d in describe(plain, seed=s) if d.view == "search")


def test_mineral_name_only_when_labelled() -> None:
    labelled = CrystalRecord("nacl", nacl(), "mineral", labels={"mineral": "halite"})
    assert any("halite" in d.text for s in range(10) for d in describe(labelled, seed=s))
    plain = CrystalRecord("nacl", nacl(), "test")
    assert not any("halite" in d.text for s in range(10) for d in describe(plain, seed=s))


FORMULA_TOKEN = re.compile(r"\b(?:[A-Z][a-z]?\d*){2,}\b|\b[A-Z][a-z]?\d+\b")


def test_captions_have_no_formula(real_records: list[CrystalRecord]) -> None:
    for rec in real_records[::4]:
        cap = {d.view: d.text for d in describe(rec)}["caption"]
        assert rec.formula not in cap.split(), cap
        assert not FORMULA_TOKEN.search(cap.replace(analyze(rec.structure).spacegroup_symbol, "")), cap
        assert len(cap.split()) <= 10


def test_determinism_and_seed_variation(real_records: list[CrystalRecord]) -> None:
    sample = real_records[:30]
    differ = 0
    for rec in sample:
        a = describe(rec, seed=3)
        assert a == describe(rec, seed=3)
        b = describe(rec, seed=4)
        differ += sum(x.text != y.text for x, y in zip(a, b, strict=True))
    assert differ >= len(sample)  # most views change phrasing with the seed


def test_phrasing_is_stable_across_processes() -> None:
    import subprocess
    import sys

    code = (
        "from tests.test_text import srtio3;from clac_core.record import CrystalRecord;"
        "from clac_core.text import describe;"
        "print([d.text for d in describe(CrystalRecord('sto', srtio3(), 't', properties={'band_gap': 1.0}), seed=7)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout.strip()
    here = str(
        [d.text for d in describe(CrystalRecord("sto", srtio3(), "t", properties={"band_gap": 1.0}), seed=7)]
    )
    assert out == here


def _skeleton(text: str, rec: CrystalRecord) -> str:
    """Text with numbers, element symbols and formula masked: what is left is the phrasing."""
    t = text.replace(rec.formula, "F")
    t = re.sub(r"-?\d+(\.\d+)?", "#", t)
    t = re.sub(r"\b[A-Z][a-z]?\b", "E", t)
    return t


def test_at_least_ten_phrasings_per_view(real_records: list[CrystalRecord]) -> None:
    rec = CrystalRecord(
        "sto", srtio3(), "test", properties={"band_gap": 1.8, "formation_energy_per_atom": -3.1}
    )
    skeletons: dict[str, set[str]] = defaultdict(set)
    for seed in range(80):
        for d in describe(rec, seed=seed):
            skeletons[d.view].add(_skeleton(d.text, rec))
    for r in real_records[:40]:
        for d in describe(r):
            skeletons[d.view].add(_skeleton(d.text, r))
    for view in ("composition", "structure", "properties", "caption"):
        assert len(skeletons[view]) >= 10, (view, len(skeletons[view]))


# ---------------------------------------------------------------------------------------
# number honesty

NUMBER = re.compile(r"(?<![\w.\-/#])-?\d+(?:\.\d+)?(?![\w])")
OX = re.compile(r"(?<=[\s,(])([A-Z][a-z]?)(\d?)([+-])(?=[\s,.;)])")


def _allowed_numbers(rec: CrystalRecord) -> tuple[set[str], list[float], set[int]]:
    """Every value a text may state, computed here without clac_core.text."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    s = rec.structure
    strings: set[str] = set()
    decimals: list[float] = []
    ints: set[int] = {len(s)}
    for name, v in rec.properties.items():
        strings.add(f"{v:.{QUANTITIES[name].decimals}f}")
    sga = SpacegroupAnalyzer(s, symprec=0.1)
    ints.add(sga.get_space_group_number())
    for cell in (sga.get_refined_structure(), sga.get_conventional_standard_structure(), s):
        decimals += list(cell.lattice.abc) + list(cell.lattice.angles) + [cell.lattice.volume]
    decimals.append(s.density)
    # every interatomic distance up to 6 Å; coordination numbers and neighbour counts from
    # the bond rule "within 1.2 x the nearest partner", for every choice of partner elements
    elements = sorted({site.specie.symbol for site in s})
    subsets = [{e for k, e in enumerate(elements) if mask >> k & 1} for mask in range(1, 2 ** len(elements))]
    for nbrs in s.get_all_neighbors(6.0):
        decimals += [n.nn_distance for n in nbrs]
        for sub in subsets:
            cand = sorted((n.nn_distance, n.specie.symbol) for n in nbrs if n.specie.symbol in sub)
            if not cand:
                continue
            shell = [e for d, e in cand if d <= 1.2 * cand[0][0] + 1e-6]
            ints.add(len(shell))
            ints.update(shell.count(e) for e in set(shell))
    return strings, decimals, ints


def _check_number(tok: str, strings: set[str], decimals: list[float], ints: set[int]) -> bool:
    if tok in strings or tok.lstrip("-") in strings:
        return True
    if "." in tok:
        step = 10 ** -len(tok.split(".")[1])
        v = float(tok)
        return any(abs(v - d) <= step * 0.51 + 1e-9 for d in decimals)
    return int(tok) in ints


def test_every_number_in_texts_is_true(real_records: list[CrystalRecord]) -> None:
    from pymatgen.core import Composition

    from clac_core.text.query_views import QUERY_VIEWS

    checked = 0
    for rec in real_records:
        strings, decimals, ints = _allowed_numbers(rec)
        f = analyze(rec.structure)
        # coordination numbers must also be real neighbour counts of the stated element
        ints_cn = {s.cn for s in f.sites}
        assert ints_cn <= ints
        for d in describe(rec, seed=11):
            if d.view in QUERY_VIEWS:
                continue  # rounded values, ranges and bounds: test_query_views_are_formula_free_and_true
            text = d.text.replace(f.spacegroup_symbol, "SG").replace(rec.formula, "F")
            for tok in NUMBER.findall(text):
                checked += 1
                assert _check_number(tok, strings, decimals, ints), (rec.id, d.view, tok, d.text)
            for el, mag, sign in OX.findall(d.text):
                guesses = Composition(rec.formula).oxi_state_guesses(max_sites=-1)
                assert guesses, (rec.id, d.text)
                assert guesses[0][el] == (int(mag or 1) * (1 if sign == "+" else -1)), (rec.id, d.text)
        # stated properties appear with their decimals in the properties view
        props = {d.view: d.text for d in describe(rec, seed=11)}.get("properties", "")
        for name, v in rec.properties.items():
            if name == "total_magnetization" and abs(v) < 0.05 and "non-magnetic" in props:
                continue
            if name == "band_gap" and v == 0:
                assert "metal" in props
                continue
            assert f"{v:.{QUANTITIES[name].decimals}f}" in props, (name, v, props)
    assert checked > 2000


def test_lattice_numbers_match_conventional_cell() -> None:
    """Hexagonal graphite: a and c stated are those of the conventional cell."""
    rec = CrystalRecord("gr", graphite(), "test")
    comp = {d.view: d.text for d in describe(rec)}["composition"]
    assert "2.46 Å" in comp and "6.70 Å" in comp


@pytest.mark.slow
def test_robocrys_view_is_opt_in() -> None:
    rec = CrystalRecord("nacl", nacl(), "test")
    assert "robocrys" not in [d.view for d in describe(rec)]
    ds = describe(rec, robocrys=True)
    assert ds[-1].view == "robocrys"
    assert "NaCl" in ds[-1].text and len(ds[-1].text.split()) > 20


def test_precomputed_facts_give_same_texts_and_stay_unchanged() -> None:
    rec = CrystalRecord("nacl", nacl(), "mineral", labels={"mineral": "halite"}, properties={"band_gap": 5.0})
    facts = analyze(rec.structure)
    assert describe(rec, seed=5, facts=facts) == describe(rec, seed=5)
    assert facts.labels == {}


def test_search_view_states_true_structure_and_application_facts(real_records: list[CrystalRecord]) -> None:
    from clac_core.properties import band_gap_of
    from clac_core.query.words import arity_in
    from clac_core.text.search_views import STRUCTURE_WORDS
    from clac_core.vocab.applications import applications
    from clac_core.vocab.structure_types import STRUCTURE_TYPE_NAMES, structure_type_of

    dim_of = {w: d for d, ws in STRUCTURE_WORDS.items() for w in ws}
    seen_dims, types_seen = set(), set()
    for rec in real_records:
        f = analyze(rec.structure)
        apps = {a.phrase for a in applications(f.elements, f.anion_class, band_gap_of(rec.properties))}
        for seed in range(4):
            (text,) = [d.text for d in describe(rec, seed=seed, facts=f) if d.view == "search"]
            for word, d in sorted(dim_of.items(), key=lambda kv: -len(kv[0])):
                if word in text:
                    assert f.dimensionality == d, (text, f.dimensionality)
                    seen_dims.add(d)
                    break
            for phrase in ("photovoltaic absorber candidate", "transparent conducting oxide candidate",
                           "Li-ion cathode candidate", "Na-ion cathode candidate"):
                assert (phrase in text) <= (phrase in apps), (text, apps)
            assert rec.formula not in text
            # "cubic coordination" is a polyhedron (8 neighbours at a cube's corners), not the crystal system
            systems = [cs for cs in ("cubic", "hexagonal", "tetragonal") if re.search(rf"\b{cs}\b(?! coordination)", text)]
            assert systems in ([], [f.crystal_system]), (text, f.crystal_system)
            named = [t for t in STRUCTURE_TYPE_NAMES if re.search(rf"(?<![\w-]){re.escape(t)}", text)]
            assert named in ([], [structure_type_of(f.spacegroup_number, f.anions, f.sites)]), (text, named)
            types_seen.update(named)
            # the default build's one request never names the element count (the texts the
            # shipped model was trained on stay as they were); the extra requests may
            n = arity_in(text)  # "elemental silicon" is the one count a default request names
            assert n is None or (n == 1 and len(f.elements) == 1), text
    assert len(seen_dims) >= 2
    assert types_seen  # the real records include typed crystals (rock salt, perovskite, ...)


def test_more_search_texts_are_new_true_phrasings_and_the_first_is_unchanged(
    real_records: list[CrystalRecord],
) -> None:
    """describe(search_texts=N): N search-box requests of the crystal (the data build's
    --search-texts), the first the one a default build writes, none repeated, each true."""
    from clac_core.query.words import arity_in
    from clac_core.text.search_views import STRUCTURE_WORDS

    dim_of = {w: d for d, ws in STRUCTURE_WORDS.items() for w in ws}
    more, arities = 0, set()
    for rec in real_records[:12]:
        f = analyze(rec.structure)
        one = [d.text for d in describe(rec, facts=f) if d.view == "search"]
        four = [d.text for d in describe(rec, facts=f, search_texts=4) if d.view == "search"]
        assert four[0] == one[0] and len(set(four)) == len(four) and 1 <= len(four) <= 4
        more += len(four) - 1
        others = [d.view for d in describe(rec, facts=f, search_texts=4) if d.view != "search"]
        assert others == [d.view for d in describe(rec, facts=f) if d.view != "search"]
        for text in four:
            for word, d in sorted(dim_of.items(), key=lambda kv: -len(kv[0])):
                if word in text:
                    assert f.dimensionality == d, (text, f.dimensionality)
                    break
            assert rec.formula not in text
            n = arity_in(text)  # "ternary", "four-element": read back as the search reads it
            assert n in (None, len(f.elements)), (text, f.elements)
            arities.add(n)
    assert more >= 12  # most crystals get new phrasings
    assert len(arities - {None}) >= 2  # the extra requests name several element counts


def test_application_rules() -> None:
    from clac_core.vocab.applications import LI_CATHODE, PHOTOVOLTAIC, TRANSPARENT_CONDUCTOR, applications

    assert applications(["Li", "Co", "O"], "oxide", 1.0) == [LI_CATHODE]
    assert applications(["Li", "Co"], "intermetallic", 0.0) == []  # no anion: not a cathode
    assert applications(["Cd", "Te"], "telluride", 1.4) == [PHOTOVOLTAIC]
    assert applications(["Zn", "O"], "oxide", 3.2) == [TRANSPARENT_CONDUCTOR]
    assert applications(["Zn", "O"], "oxide", None) == []
