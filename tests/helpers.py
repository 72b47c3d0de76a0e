"""Helpers shared by several test modules (imported by them and by ``conftest.py``).

No test module imports another: the tiny checkpoint + index (built once per session), the
crystals it holds, and the inputs the app and browser tests upload live here.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

TINY_MODEL = {
    "crystal": {"hidden_dim": 32, "num_layers": 2, "out_dim": 64},
    "embed_dim": 64,
    "proj_hidden": 0,
}


def tiny_records() -> list:
    """A dozen real crystals built in code (with band gaps for some)."""
    from pymatgen.core import Lattice, Structure

    from clac_core.record import CrystalRecord

    def sg(name: str, a: float, species: list[str], coords: list[list[float]], c: float | None = None,
           hexagonal: bool = False) -> Structure:
        lat = Lattice.hexagonal(a, c) if hexagonal else (Lattice.tetragonal(a, c) if c else Lattice.cubic(a))
        return Structure.from_spacegroup(name, lat, species, coords)

    items = [
        ("NaCl", sg("Fm-3m", 5.64, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]), {"band_gap": 5.0}, "mp_test"),
        ("MgO", sg("Fm-3m", 4.21, ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]), {"band_gap": 4.5}, "mp_test"),
        ("CsCl", sg("Pm-3m", 4.12, ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]), {"band_gap": 5.2}, "mp_test"),
        ("Si", sg("Fd-3m", 5.43, ["Si"], [[0, 0, 0]]), {"band_gap": 0.6}, "mp_test"),
        ("Cu", sg("Fm-3m", 3.61, ["Cu"], [[0, 0, 0]]), {"band_gap": 0.0}, "mp_test"),
        ("Fe", sg("Im-3m", 2.87, ["Fe"], [[0, 0, 0]]), {"band_gap": 0.0}, "mp_test"),
        ("SrTiO3", sg("Pm-3m", 3.905, ["Sr", "Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]),
         {"band_gap": 1.8}, "proto_test"),
        ("TiO2", sg("P4_2/mnm", 4.59, ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]], c=2.96), {}, "proto_test"),
        ("ZnO", sg("P6_3mc", 3.25, ["Zn", "O"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]], c=5.21, hexagonal=True),
         {"band_gap": 0.7}, "proto_test"),
        ("Mg", sg("P6_3/mmc", 3.21, ["Mg"], [[1 / 3, 2 / 3, 0.25]], c=5.21, hexagonal=True), {}, "proto_test"),
        ("KF", sg("Fm-3m", 5.35, ["K", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]]), {}, "proto_test"),
        ("PbTe", sg("Fm-3m", 6.46, ["Pb", "Te"], [[0, 0, 0], [0.5, 0.5, 0.5]]), {"band_gap": 0.3}, "mp_test"),
    ]
    return [
        CrystalRecord(id=f"t:{name}", structure=s, source=src, properties=props, hypothetical=(src == "proto_test"))
        for name, s, props, src in items
    ]


def build_tiny_assets(out: Path) -> tuple[Path, Path]:
    """A random-init tiny checkpoint and its index of ``tiny_records()`` (with UMAP skipped)."""
    import torch

    from clac_core.config import model_config_from_dict
    from clac_core.index import build
    from clac_core.models import CLaCModel, save_checkpoint

    torch.manual_seed(0)
    ck = out / "model"
    save_checkpoint(CLaCModel(model_config_from_dict(TINY_MODEL)), ck, step=0, extra={"untrained": True})
    model = CLaCModel.from_checkpoint(ck)
    idx = build(model, tiny_records(), checkpoint=ck, sources=["tiny"], max_descriptions=40)
    ix = idx.save(out / "index")
    return ck, ix


@functools.lru_cache(maxsize=1)
def shared_tiny_assets() -> tuple[Path, Path]:
    """One tiny checkpoint + index per test session, shared by the index/inference/app tests."""
    out = Path(tempfile.mkdtemp(prefix="clac_tiny_"))
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    return build_tiny_assets(out)


NACL_CIF = """data_NaCl
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   5.64
_cell_length_b   5.64
_cell_length_c   5.64
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   90
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_as_xyz
  'x, y, z'
loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Na1  Na  0.0  0.0  0.0  1
  Na2  Na  0.5  0.5  0.0  1
  Na3  Na  0.5  0.0  0.5  1
  Na4  Na  0.0  0.5  0.5  1
  Cl1  Cl  0.5  0.0  0.0  1
  Cl2  Cl  0.0  0.5  0.0  1
  Cl3  Cl  0.0  0.0  0.5  1
  Cl4  Cl  0.5  0.5  0.5  1
"""
BAD_CIF = "data_<b>broken</b>\n_cell_length_a 5\nthis is not a cif at all\n"
PAYLOAD = "![x](https://evil.example/t.png) [Click here to re-login](https://evil.example/phish)"


def tiny_csv(n: int = 3, **cols) -> str:
    """A CSV table (material_id, cif, extra columns) of the first ``n`` tiny records."""
    import pandas as pd
    from pymatgen.io.cif import CifWriter

    recs = tiny_records()[:n]
    data = {"material_id": [str(3961 + i) for i in range(n)], "cif": [str(CifWriter(r.structure)) for r in recs]}
    data.update(cols)
    return pd.DataFrame(data).to_csv(index=False)


def slice_index(src: Path, out: Path, n: int) -> Path:
    """The first ``n`` crystals of the index in ``src`` as an index in ``out`` (embeddings,
    metadata with its structure columns, the same descriptions; a new corpus hash)."""
    import json

    import numpy as np
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    emb = np.load(src / "embeddings.npy", mmap_mode="r")
    if len(emb) < n:
        raise ValueError(f"{src} holds {len(emb)} crystals, fewer than {n}")
    np.save(out / "embeddings.npy", np.ascontiguousarray(emb[:n]))
    table = pq.read_table(src / "metadata.parquet").slice(0, n)
    pq.write_table(table, out / "metadata.parquet")
    for f in ("descriptions.parquet", "description_embeddings.npy"):
        (out / f).write_bytes((src / f).read_bytes())
    manifest = json.loads((src / "manifest.json").read_text())
    by_source = {str(v["values"]): int(v["counts"]) for v in table.column("source").value_counts().to_pylist()}
    manifest.update(corpus_hash=None, counts={**manifest.get("counts", {}), "crystals": n, "by_source": by_source})
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out
