"""Crystal graph featurization: neighbours, distances, features, cache, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from clac_core.config import GraphConfig
from clac_core.graph import (
    ELEMENT_FEATURE_BLOCKS,
    GraphCache,
    augment_structure,
    collate,
    element_features,
    gaussian_expand,
    graph_config_key,
    structure_to_graph,
)

FCC = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]


def nacl(a: float = 5.64) -> Structure:
    """Conventional rock-salt cell (8 atoms), built explicitly (from_spacegroup is slow under pytest)."""
    cl = [[(x + 0.5) % 1, (y + 0.5) % 1, (z + 0.5) % 1] for x, y, z in FCC]
    return Structure(Lattice.cubic(a), ["Na"] * 4 + ["Cl"] * 4, FCC + cl)


def silicon() -> Structure:
    return Structure(
        Lattice.cubic(5.43), ["Si"] * 2, [[0, 0, 0], [0.25, 0.25, 0.25]]
    ).get_primitive_structure()


def test_nacl_neighbours_and_nearest_distance():
    s = nacl()
    g = structure_to_graph(s, GraphConfig(cutoff=8.0, max_neighbors=12))
    assert g.num_nodes == 8
    assert g.z.dtype == torch.long and g.edge_index.dtype == torch.long
    assert g.edge_dist.dtype == torch.float32
    counts = torch.bincount(g.edge_index[1], minlength=8)
    assert counts.tolist() == [12] * 8
    # nearest neighbour of every atom: the 6 counter-ions at a/2
    for i in range(8):
        d = g.edge_dist[g.edge_index[1] == i]
        assert d.min().item() == pytest.approx(2.82, abs=1e-4)
        nbr_z = g.z[g.edge_index[0][g.edge_index[1] == i]]
        closest = nbr_z[torch.isclose(d, torch.tensor(2.82), atol=1e-3)]
        assert len(closest) == 6 and (closest != g.z[i]).all()
    # next shell (12 like ions at a/sqrt(2)) fills the remaining 6 slots
    assert g.edge_dist.max().item() == pytest.approx(5.64 / np.sqrt(2), abs=1e-4)


def test_max_neighbors_and_cutoff_respected():
    g = structure_to_graph(nacl(), GraphConfig(cutoff=3.0, max_neighbors=12))
    assert torch.bincount(g.edge_index[1]).tolist() == [6] * 8  # only the first shell within 3 Å
    g = structure_to_graph(nacl(), GraphConfig(cutoff=8.0, max_neighbors=4))
    assert torch.bincount(g.edge_index[1]).tolist() == [4] * 8


def test_isolated_atom_falls_back_to_larger_radius():
    # two atoms 1 Å apart in a 30 Å box: nothing else within 8 Å of ... each other only
    s = Structure(Lattice.cubic(30.0), ["H", "H", "He"], [[0, 0, 0], [1 / 30, 0, 0], [0.5, 0.5, 0.5]])
    g = structure_to_graph(s, GraphConfig(cutoff=8.0))
    counts = torch.bincount(g.edge_index[1], minlength=3)
    assert (counts > 0).all()  # He got neighbours through the enlarged radius
    with pytest.raises(ValueError, match="neighbour"):
        structure_to_graph(
            Structure(Lattice.cubic(500.0), ["H", "He"], [[0, 0, 0], [0.5, 0.5, 0.5]]), GraphConfig()
        )


def test_gaussian_expand_shape_and_peak():
    cfg = GraphConfig()
    d = torch.tensor([0.0, 2.0, 8.0])
    f = gaussian_expand(d, cfg)
    assert f.shape == (3, cfg.num_gaussians)
    assert f.argmax(1).tolist() == [0, 10, 40]  # centres 0, 0.2, ... 8.0
    assert f[1, 10].item() == pytest.approx(1.0)
    assert f[1, 11].item() == pytest.approx(np.exp(-1.0), rel=1e-5)


def test_element_features_table():
    t = element_features()
    assert t.shape == (119, sum(n for _, n in ELEMENT_FEATURE_BLOCKS))
    assert t.dtype == torch.float32
    assert t[0].abs().sum() == 0
    assert ((t == 0) | (t == 1)).all()
    # common elements are distinguishable and have most properties
    rows = t[[1, 6, 8, 11, 14, 17, 26, 79]]
    assert len({tuple(r.tolist()) for r in rows}) == 8
    assert (t[[6, 8, 14, 26]].sum(1) >= 10).all()
    # group block: Na (z=11) is group 1, Cl (z=17) group 17
    assert t[11, 0] == 1 and t[17, 16] == 1
    assert element_features() is not t  # caller gets its own copy
    assert torch.equal(element_features(), t)


def test_collate_offsets_edges():
    g1, g2 = structure_to_graph(nacl()), structure_to_graph(silicon())
    b = collate([g1, g2])
    assert b.num_graphs == 2
    assert b.batch.tolist() == [0] * 8 + [1] * 2
    assert b.edge_index[:, g1.edge_index.shape[1] :].min() >= 8


def test_graph_cache_roundtrip_without_pickle(tmp_path):
    structures = [nacl(), silicon(), nacl(5.0)]
    cache = GraphCache.build(structures, GraphConfig(), ids=["a", "b", "c"], progress=False)
    assert len(cache) == 3
    path = cache.save(tmp_path / "graphs.npz")
    loaded = GraphCache.load(path, GraphConfig())
    assert loaded.ids == ["a", "b", "c"]
    with np.load(path, allow_pickle=False) as f:  # would raise if any object array were stored
        assert {"z", "edge_index", "edge_dist", "node_offsets", "edge_offsets", "meta"} <= set(f.files)
    for i, s in enumerate(structures):
        direct = structure_to_graph(s)
        got = loaded[i]
        assert torch.equal(got.z, direct.z)
        assert torch.equal(got.edge_index, direct.edge_index)
        assert torch.allclose(got.edge_dist, direct.edge_dist)
    assert loaded[-1].num_nodes == 8
    with pytest.raises(IndexError):
        loaded[3]
    with pytest.raises(ValueError, match="built with"):
        GraphCache.load(path, GraphConfig(cutoff=6.0))
    assert graph_config_key(GraphConfig()) != graph_config_key(GraphConfig(max_neighbors=8))


def test_graph_cache_with_symmetry_features(tmp_path):
    sym = GraphConfig(symmetry=True)
    structures = [nacl(), silicon(), nacl(5.0) * (2, 1, 1)]
    cache = GraphCache.build(structures, sym, progress=False)
    assert cache.sg.tolist() == [225, 166, 225]  # this "silicon" is a 2-atom cubic cell: R-3m and cache.lat.shape == (3, 6)
    # a supercell has the space group and conventional-cell shape of its primitive cell
    assert np.allclose(cache.lat[2, :5], cache.lat[0, :5], atol=1e-6)
    path = cache.save(tmp_path / "g.npz")
    loaded = GraphCache.load(path, sym)
    for i, s in enumerate(structures):
        direct, got = structure_to_graph(s, sym), loaded[i]
        assert torch.equal(got.sg, direct.sg) and torch.allclose(got.lat, direct.lat)
    batch = loaded.batch([0, 1])
    assert batch.sg.shape == (2,) and batch.lat.shape == (2, 6)
    # a cache without the features is not taken for one with them, and vice versa
    with pytest.raises(ValueError, match="built with"):
        GraphCache.load(path, GraphConfig())
    # the option leaves the key of caches built without it unchanged
    assert graph_config_key(GraphConfig()) == "8bdceb2a7022" != graph_config_key(sym)
    assert not hasattr(structure_to_graph(nacl()), "sg") or structure_to_graph(nacl()).sg is None


def test_graph_cache_multiprocessing_matches_serial():
    structures = [nacl(5.0 + 0.01 * i) for i in range(70)]
    serial = GraphCache.build(structures, progress=False)
    parallel = GraphCache.build(structures, num_workers=2, progress=False)
    assert np.array_equal(serial.edge_index, parallel.edge_index)
    assert np.array_equal(serial.edge_dist, parallel.edge_dist)


def test_augment_structure_same_composition_small_displacement():
    rng = np.random.default_rng(0)
    s = silicon()
    seen_sizes = set()
    for _ in range(8):
        a = augment_structure(s, rng, sigma=0.02)
        assert a.composition.reduced_formula == "Si"
        seen_sizes.add(len(a))
        assert a.volume == pytest.approx(s.volume * len(a) / len(s))
    assert seen_sizes == {2, 4}
    a = augment_structure(s, np.random.default_rng(1), sigma=0.0, p_supercell=0.0)
    assert np.allclose(a.cart_coords, s.cart_coords)


def test_packaged_element_table_matches_pymatgen():
    """The shipped JSON table is exactly what pymatgen's data gives today (else regenerate it
    with clac_core.graph.write_element_table and retrain: the crystal tower's input changed)."""
    from clac_core.graph import (
        ELEMENT_TABLE_RESOURCE,
        compute_element_table,
        read_element_table,
    )

    packaged = read_element_table(ELEMENT_TABLE_RESOURCE)
    assert np.array_equal(packaged, compute_element_table())
    assert torch.equal(element_features(), torch.from_numpy(packaged))
    assert packaged[0].sum() == 0 and packaged[8].sum() > 5  # row 0 unknown; oxygen has data


def test_element_table_round_trip_and_block_check(tmp_path):
    import json

    from clac_core.graph import read_element_table, write_element_table

    path = write_element_table(tmp_path / "t.json")
    data = json.loads(path.read_text())
    data["blocks"][0][1] = 17  # a table for another feature layout is refused
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="feature blocks"):
        read_element_table(path)
