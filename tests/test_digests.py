"""The model's outputs, pinned: digests of the household arrays and the indicator rows at the end of
2029 for baseline and plan at two scales, seed 42.

A refactoring (moving code, renaming, splitting modules) must leave every digest unchanged. A change
of the model's behaviour changes them on purpose: rerun `python tests/test_digests.py --record`
and say in the commit why the numbers moved. Cost rows (yuan) are digested at 12 significant
digits: a change in the order of a product moves their last bit without changing any result.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

RECORD = Path(__file__).resolve().parent / "regression" / "digests.json"
CASES = [("baseline", 0.002), ("plan", 0.002), ("baseline", 0.01), ("plan", 0.01)]


def run_digest(scenario: str, scale: float) -> dict:
    from sim.model import ShanxiModel

    m = ShanxiModel(scale=scale, rng=42, scenario_name=scenario)
    m.run()
    h = hashlib.sha256()
    for a in m.households:
        h.update(np.ascontiguousarray(a).tobytes())
    indicators = [r for r in m.rows if not r[3].startswith("cost_")]
    costs = [(*r[:4], float(f"{r[4]:.12g}")) for r in m.rows if r[3].startswith("cost_")]
    return {
        "households": h.hexdigest()[:16],
        "indicators": _digest(indicators),
        "costs": _digest(costs),
        "n_households": int(m.households.n),
    }


def _digest(rows) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


@pytest.mark.parametrize("scenario,scale", CASES)
def test_outputs_match_the_recorded_digests(scenario, scale):
    recorded = json.loads(RECORD.read_text())[f"{scenario}@{scale}"]
    assert run_digest(scenario, scale) == recorded


if __name__ == "__main__" and "--record" in sys.argv:
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps({f"{s}@{x}": run_digest(s, x) for s, x in CASES}, indent=1) + "\n")
    print(RECORD.read_text())
