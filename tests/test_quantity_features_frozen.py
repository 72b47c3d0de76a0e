"""The model's number-aware text features are frozen: a model is trained on them.

``tests/data/golden/quantity_features.json`` holds a sha256 of every row of
``quantity_features`` over a fixed list of texts, computed before elastic moduli, structure
words and negated lists were added to the search reader. Words the search reads (moduli,
"stiff", "hard", "GPa", negations) must leave these features byte-identical; they have their
own reading path (``clac_core.query.moduli``) used by the search intent only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).parent / "data" / "golden" / "quantity_features.json"


def test_quantity_features_are_byte_identical_to_the_stored_expectation() -> None:
    from clac_core.query.numbers import FEATURE_DIM, GRIDS, quantity_features

    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    texts = [r["text"] for r in golden["rows"]]
    f = quantity_features(texts)
    assert FEATURE_DIM == golden["feature_dim"] and list(f.shape) == golden["shape"]
    assert list(GRIDS) == ["band_gap", "formation_energy_per_atom", "density", "total_magnetization"]
    for i, row in enumerate(golden["rows"]):
        digest = hashlib.sha256(np.ascontiguousarray(f[i]).tobytes()).hexdigest()
        assert digest == row["sha256"], row["text"]
