"""The one wrapper around 3Dmol.js, plus a plotly fallback, the cell choice and downloads.

py3Dmol's HTML fetches 3Dmol.js from a CDN; offline that is a silent blank box. We inline a
local copy (npm package ``3dmol`` → ``static/3Dmol-min.js``, copied by ``scripts/setup.sh``)
and write the few lines of viewer script ourselves: the atoms, their periodic images and the
bonds are computed here (:func:`build_scene`) and handed over explicitly, because 3Dmol's CIF
path draws no bond that crosses a cell edge. The page either inlines the 540 kB script (a
self-contained page, works anywhere) or, given ``script_src``, loads it by URL: the app serves
``static/3Dmol-min.js`` itself, so the browser fetches and compiles it once and every later
view is a few kB (issue 19: a new crystal in the viewer re-sent and re-parsed the whole
library). Nothing here imports streamlit.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import plotly.graph_objects as go
    from pymatgen.core import Structure

REPO = Path(__file__).resolve().parents[2]
Style = Literal["ball-and-stick", "spacefill"]


def js_path() -> Path | None:
    """Local 3Dmol-min.js (``CLAC_3DMOL_JS`` overrides), or None when not installed."""
    candidates = [
        os.environ.get("CLAC_3DMOL_JS", ""),
        REPO / "static" / "3Dmol-min.js",
        REPO / "node_modules" / "3dmol" / "build" / "3Dmol-min.js",
    ]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    return None


@lru_cache(maxsize=2)
def _read_js(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def element_colors() -> dict[str, str]:
    """Element symbol -> Jmol hex colour (pymatgen's colour table)."""
    import pymatgen.vis
    import yaml

    f = Path(pymatgen.vis.__file__).parent / "ElementColorSchemes.yaml"
    table = yaml.safe_load(f.read_text(encoding="utf-8"))["Jmol"]
    return {el: "#{:02x}{:02x}{:02x}".format(*rgb) for el, rgb in table.items()}


def color_of(symbol: str) -> str:
    return element_colors().get(symbol, "#ff1493")


CellChoice = Literal["conventional", "primitive", "as given"]
SYMPREC = 0.1  # Å, as in clac_core.symmetry.symmetry_info


def cell_for_view(structure: Structure, cell: CellChoice = "conventional") -> Structure:
    """The cell a crystallographer expects to see.

    "conventional": the conventional standard cell (bcc Fe as the 2-atom cube, not the 1-atom
    rhombohedron); "primitive": the primitive standard cell; "as given": unchanged. When spglib
    finds no symmetry at ``SYMPREC`` the structure is returned as given.
    """
    if cell == "as given":
        return structure
    import warnings

    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sga = SpacegroupAnalyzer(structure, symprec=SYMPREC)
            out = (
                sga.get_conventional_standard_structure()
                if cell == "conventional"
                else sga.get_primitive_standard_structure()
            )
    except Exception:  # spglib gives up on some distorted cells: show what we have
        return structure
    return out if out is not None and len(out) else structure


def symmetrized_cif(structure: Structure, symprec: float = SYMPREC) -> str:
    """CIF with the space group and only the symmetry-distinct sites (``_symmetry_space_group``
    kept), falling back to P1 when no symmetry is found."""
    from clac_core.inference import structure_to_cif

    try:
        return structure_to_cif(structure, symprec=symprec)
    except Exception:  # spglib failure: a correct P1 file beats no file
        return structure_to_cif(structure)


def poscar_text(structure: Structure, comment: str | None = None) -> str:
    """VASP POSCAR of the structure (direct coordinates)."""
    from pymatgen.io.vasp import Poscar

    return Poscar(structure, comment=comment or structure.composition.reduced_formula).get_str()


def safe_cif(structure: Structure) -> str:
    """CIF text regenerated from the structure (never the uploaded text, so no user block
    names or comments reach the HTML), with angle brackets removed as a second guard."""
    from pymatgen.io.cif import CifWriter

    text = str(CifWriter(structure))
    return text.replace("<", "").replace(">", "")


def legend_html(structure: Structure) -> str:
    """Small HTML legend of element colours (escaped)."""
    items = []
    for el in sorted({e.symbol for e in structure.composition.elements}):
        items.append(
            f'<span style="display:inline-flex;align-items:center;margin-right:12px">'
            f'<span style="width:14px;height:14px;border-radius:50%;background:{color_of(el)};'
            f'border:1px solid #555;margin-right:4px"></span>{html.escape(el)}</span>'
        )
    return '<div style="font-family:sans-serif;font-size:14px;padding:4px 0">' + "".join(items) + "</div>"


@dataclass(frozen=True)
class Scene:
    """What the viewer draws: atoms (A), bonds (pairs of atom positions in ``atoms``), cell.

    Attributes:
        elements: (A,) element symbols.
        xyz: (A, 3) Cartesian positions, Å.
        inside: (A,) True for atoms in the cell, False for images drawn outside it (bond ends).
        bonds: (K, 2) int atom pairs, i < j.
        cell: (3, 3) lattice rows, Å.
    """

    elements: list[str]
    xyz: np.ndarray
    inside: np.ndarray
    bonds: np.ndarray
    cell: np.ndarray


BOUNDARY_TOL = 0.02  # fractional; atoms this close to a face are repeated on the opposite face
BOND_SHELL = 1.1  # a bond is at most this many times the nearest-neighbour distance of one end
BOND_COVALENT = 1.3  # ... and at most this many times the sum of covalent radii


def _covalent_radius(symbol: str) -> float:
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    r = CovalentRadius.radius.get(symbol)
    if r is None:
        from pymatgen.core import Element

        r = float(Element(symbol).atomic_radius or 1.5)
    return float(r)


def build_scene(structure: Structure, supercell: tuple[int, int, int] = (1, 1, 1)) -> Scene:
    """Atoms and bonds of the (super)cell, with the periodic images a reader expects.

    Drawn: every site in the cell; its images on the opposite faces/edges/corners when it sits
    on a boundary (an fcc cube shows its 14 corner + face atoms); and, for each bond that leaves
    the cell, the image atom at its far end, so bonds across cell edges are drawn (as VESTA
    does). A bond joins i and j when their distance is within ``BOND_SHELL`` times the nearest-
    neighbour distance of i or of j and within ``BOND_COVALENT`` times the sum of covalent
    radii (so the first coordination shell, Ti-O but not O-O in SrTiO3).
    """
    s = structure.copy()
    if tuple(supercell) != (1, 1, 1):
        s.make_supercell([max(1, int(v)) for v in supercell])
    lat = s.lattice
    symbols = [site.specie.symbol for site in s]
    shift = np.floor(s.frac_coords + 1e-8).astype(int)  # site i = wrapped_i + shift_i
    frac = s.frac_coords - shift  # (n, 3) in [0, 1) up to rounding
    bonds_of = _bond_partners(s, symbols, shift)
    keys, inside = _drawn_atoms(frac, bonds_of)
    bonds = _drawn_bonds(keys, bonds_of)
    order = sorted(keys, key=keys.get)
    fr = np.array([frac[i] + np.array(img) for i, img in order]).reshape(-1, 3)
    return Scene(
        elements=[symbols[i] for i, _ in order],
        xyz=lat.get_cartesian_coords(fr),
        inside=np.array(inside, dtype=bool),
        bonds=np.array(sorted(bonds), dtype=np.int64).reshape(-1, 2),
        cell=np.array(lat.matrix),
    )


_Image = tuple[int, int, int]  # lattice translation of a site, in cells


def _bond_partners(
    s: Structure, symbols: list[str], shift: np.ndarray
) -> dict[int, list[tuple[int, _Image]]]:
    """Bonds of every site (rule in :func:`build_scene`): i -> [(j, image of j seen from i)],
    images relative to the wrapped coordinates (``shift``: (n, 3) cell of each unwrapped site)."""
    n = len(s)
    radii = np.array([_covalent_radius(e) for e in symbols])
    r_max = float(min(BOND_COVALENT * 2 * radii.max(), 5.0))
    ci, cj, offsets, dist = s.get_neighbor_list(r_max)
    # get_neighbor_list's images are relative to the unwrapped coordinates: re-base them
    if len(ci):
        offsets = offsets.astype(int) + shift[cj] - shift[ci]
    nn = np.full(n, np.inf)
    if len(ci):
        np.minimum.at(nn, ci, dist)
    ok = (dist <= BOND_SHELL * np.maximum(nn[ci], nn[cj]) + 1e-6) & (
        dist <= BOND_COVALENT * (radii[ci] + radii[cj])
    )
    ci, cj, offsets = ci[ok], cj[ok], offsets[ok]
    bonds_of: dict[int, list[tuple[int, _Image]]] = {i: [] for i in range(n)}
    for i, j, o in zip(ci.tolist(), cj.tolist(), offsets.tolist(), strict=True):
        bonds_of[i].append((j, (o[0], o[1], o[2])))
    return bonds_of


def _drawn_atoms(
    frac: np.ndarray, bonds_of: dict[int, list[tuple[int, _Image]]]
) -> tuple[dict[tuple[int, _Image], int], list[bool]]:
    """(site, image) -> position in the drawn list, and which drawn atoms are inside the cell:
    every site and its boundary images (inside), then far ends of bonds leaving the cell."""
    keys: dict[tuple[int, _Image], int] = {}
    inside: list[bool] = []

    def add(i: int, img: _Image, is_inside: bool) -> None:
        if (i, img) not in keys:
            keys[(i, img)] = len(inside)
            inside.append(is_inside)

    for i in range(len(frac)):
        add(i, (0, 0, 0), True)
        near = [[0] + ([1] if f < BOUNDARY_TOL else []) + ([-1] if f > 1 - BOUNDARY_TOL else []) for f in frac[i]]
        for img in np.ndindex(*(len(a) for a in near)):
            o = (near[0][img[0]], near[1][img[1]], near[2][img[2]])
            if o != (0, 0, 0):
                add(i, o, True)  # a boundary atom's image is part of the cell picture
    for (i, img), _ in list(keys.items()):
        if img != (0, 0, 0):
            continue
        for j, o in bonds_of[i]:
            add(j, o, False)  # far end of a bond that leaves the cell
    return keys, inside


def _drawn_bonds(
    keys: dict[tuple[int, _Image], int], bonds_of: dict[int, list[tuple[int, _Image]]]
) -> set[tuple[int, int]]:
    """Bonds between drawn atoms, as (a, b) positions in the drawn list with a < b."""
    bonds: set[tuple[int, int]] = set()
    for (i, img), a in keys.items():
        for j, o in bonds_of[i]:
            b = keys.get((j, (img[0] + o[0], img[1] + o[1], img[2] + o[2])))
            if b is not None and b != a:
                bonds.add((min(a, b), max(a, b)))
    return bonds


def _cell_edges(cell: np.ndarray) -> list[tuple[list[float], list[float]]]:
    corners = {v: np.array(v) @ cell for v in np.ndindex(2, 2, 2)}
    edges = []
    for p in corners:
        for q in corners:
            if p < q and sum(abs(a - b) for a, b in zip(p, q, strict=True)) == 1:
                edges.append((corners[p].round(5).tolist(), corners[q].round(5).tolist()))
    return edges


def structure_html(
    structure: Structure,
    *,
    supercell: tuple[int, int, int] = (1, 1, 1),
    style: Style = "ball-and-stick",
    width: int | None = None,
    height: int = 420,
    title: str | None = None,
    script_src: str | None = None,
) -> str | None:
    """HTML page drawing the crystal with the local 3Dmol.js, or None when the local copy is
    missing (callers then use :func:`structure_figure`).

    ``script_src`` (a URL the page can load, e.g. the app's static copy) replaces the inlined
    library with a ``<script src>``; without it the page is self-contained.

    The atoms and bonds come from :func:`build_scene` and are handed to 3Dmol as explicit
    atoms with bonds (``model.addAtoms``), so 3Dmol's own bond guessing, which knows nothing of
    periodic images, is not used. Only numbers and element symbols reach the script; the title
    is HTML-escaped.
    """
    jsf = js_path()
    if jsf is None:
        return None
    data = _scene_json(build_scene(structure, supercell), style)
    lib = (f"<script src='{html.escape(script_src, quote=True)}'></script>" if script_src
           else f"<script>{_read_js(str(jsf))}</script>")
    w = f"{int(width)}px" if width else "100%"
    head = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<style>body{margin:0;background:white;font-family:sans-serif}</style></head><body>"
    )
    if title:
        head += f"<div style='font-size:14px;margin:2px 4px'>{html.escape(str(title))}</div>"
    return (
        head
        + f"<div id='clac3d' style='width:{w};height:{int(height)}px;position:relative'></div>"
        + lib + f"<script>{_viewer_script(data)}</script>"
        + legend_html(structure)
        + "</body></html>"
    )


def _scene_json(sc: Scene, style: Style) -> str:
    """The scene as the JSON the viewer script reads (atoms with bonds, styles, cell edges),
    safe to inline in a ``<script>`` tag."""
    partners: list[list[int]] = [[] for _ in sc.elements]
    for a, b in sc.bonds.tolist():
        partners[a].append(b)
        partners[b].append(a)
    atoms = [
        {"elem": el, "x": round(float(p[0]), 5), "y": round(float(p[1]), 5), "z": round(float(p[2]), 5),
         "bonds": partners[k], "bondOrder": [1] * len(partners[k]), "index": k, "serial": k}
        for k, (el, p) in enumerate(zip(sc.elements, sc.xyz, strict=True))
    ]
    styles = {}
    for el in sorted(set(sc.elements)):
        col = color_of(el)
        styles[el] = (
            {"sphere": {"color": col, "scale": 1.0}}
            if style == "spacefill"
            else {"sphere": {"color": col, "scale": 0.3}, "stick": {"radius": 0.12, "color": col}}
        )
    data = json.dumps({"atoms": atoms, "styles": styles, "edges": _cell_edges(sc.cell)})
    return data.replace("</", "<\\/")  # no "</script>" can close the tag early


def _viewer_script(data: str) -> str:
    """The 3Dmol.js calls that draw the scene ``data`` (from :func:`_scene_json`)."""
    # Antialiasing only on a hardware renderer: on a software one (SwiftShader, llvmpipe: a
    # browser without GPU access) multisampling made one draw ~1.7 s instead of ~0.25 s (issue 19).
    return (
        "const D = " + data + ";\n"
        "function softwareGL() {\n"
        "  try {\n"
        "    const g = document.createElement('canvas').getContext('webgl');\n"
        "    const d = g && g.getExtension('WEBGL_debug_renderer_info');\n"
        "    return /swiftshader|llvmpipe|softpipe|software/i.test(d ? g.getParameter(d.UNMASKED_RENDERER_WEBGL) : '');\n"
        "  } catch (e) { return false; }\n"
        "}\n"
        "const smooth = !softwareGL();\n"
        "document.getElementById('clac3d').dataset.antialias = String(smooth);\n"
        "const viewer = $3Dmol.createViewer(document.getElementById('clac3d'), {backgroundColor: 'white', antialias: smooth});\n"
        "const m = viewer.addModel();\n"
        "m.addAtoms(D.atoms);\n"
        "for (const [el, st] of Object.entries(D.styles)) { m.setStyle({elem: el}, st); }\n"
        "for (const [p, q] of D.edges) {\n"
        "  viewer.addCylinder({start: {x: p[0], y: p[1], z: p[2]}, end: {x: q[0], y: q[1], z: q[2]},\n"
        "                      radius: 0.035, color: '#222222', fromCap: 1, toCap: 1});\n"
        "}\n"
        "viewer.zoomTo();\n"
        "viewer.rotate(-20, 'x'); viewer.rotate(25, 'y');  // an oblique view shows all three axes\n"
        "viewer.render();\n"
        "document.getElementById('clac3d').dataset.atoms = String(D.atoms.length);\n"
    )


def structure_figure(structure: Structure, supercell: tuple[int, int, int] = (1, 1, 1)) -> go.Figure:
    """Plotly 3D scatter of the (super)cell with the cell box: the fallback viewer."""
    import plotly.graph_objects as go

    s = structure.copy()
    if tuple(supercell) != (1, 1, 1):
        s.make_supercell(list(supercell))
    fig = go.Figure()
    xyz = s.cart_coords
    syms = np.array([site.specie.symbol for site in s])
    for el in sorted(set(syms)):
        m = syms == el
        fig.add_trace(
            go.Scatter3d(
                x=xyz[m, 0],
                y=xyz[m, 1],
                z=xyz[m, 2],
                mode="markers",
                name=el,
                marker={"size": 8, "color": color_of(el), "line": {"width": 1, "color": "#333"}},
            )
        )
    m = s.lattice.matrix
    corners = [np.array(v) @ m for v in np.ndindex(2, 2, 2)]
    ex, ey, ez = [], [], []
    for i, p in enumerate(np.ndindex(2, 2, 2)):
        for j, q in enumerate(np.ndindex(2, 2, 2)):
            if j > i and sum(abs(np.subtract(p, q))) == 1:
                for arr, k in ((ex, 0), (ey, 1), (ez, 2)):
                    arr += [corners[i][k], corners[j][k], None]
    fig.add_trace(go.Scatter3d(x=ex, y=ey, z=ez, mode="lines", line={"color": "black"}, name="cell"))
    fig.update_layout(scene={"aspectmode": "data"}, margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=420)
    return fig
