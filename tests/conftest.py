import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def place_terms(c, st, d, skill):
    """The place's values `K.place_utility` reads (its `at` tuple) for a household of `skill` at place d."""
    return (
        c.wage[d, skill],
        c.emp_prob[d],
        c.rent[d],
        c.public_rental_share[d],
        c.rent_subsidy[d],
        c.permit_share[d],
        c.school_access[d],
        c.service_level[d],
        c.insurance_rate[d],
        c.wage_arrears[d],
        bool(st.place_is_urban[d]),
        bool(st.place_in_metro[d]),
        d == st.oop,
    )


def run_cli(*args, env=None, timeout=600, check=True):
    """Run `python -m <args>` from the project root, as a user would."""
    e = dict(os.environ)
    e.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=e, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"python -m {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def small_model_factory():
    from sim.model import ShanxiModel

    def make(**kw):
        kw.setdefault("scale", 0.001)
        kw.setdefault("rng", 11)
        return ShanxiModel(**kw)

    return make
