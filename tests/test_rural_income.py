"""Rural incomes that follow the urban-rural income gap (markets.rural_wage_factor): on by default (the
calibrated model): village wages move as the published ratio falls, nothing else; off, they stay fixed."""

import numpy as np
import pytest

from sim.config import compose, to_dict
from sim.economy import markets
from sim.economy.markets import VILLAGE
from sim.model import ShanxiModel


def _econ(k):
    return to_dict(compose([f"economy.rural_income_convergence={k}"]))["economy"]


def test_the_factor_follows_the_published_ratio():
    e = _econ(1.0)
    (y0, r0), (y1, r1) = e["urban_rural_income_ratio"]
    ref = e["rural_wage_reference_year"]
    assert markets.rural_wage_factor(e, ref) == pytest.approx(1.0)
    # at the published points the factor is the ratio at the reference year over the published ratio
    r_ref = r0 * (r1 / r0) ** ((ref - y0) / (y1 - y0))
    assert markets.rural_wage_factor(e, y0) == pytest.approx(r_ref / r0)
    assert markets.rural_wage_factor(e, y1) == pytest.approx(r_ref / r1)
    assert markets.rural_wage_factor(e, 2010) < 1.0 < markets.rural_wage_factor(e, 2029)
    half = _econ(0.5)
    assert markets.rural_wage_factor(half, 2029) == pytest.approx(markets.rural_wage_factor(e, 2029) ** 0.5)
    assert markets.rural_wage_factor(_econ(0.0), 2029) == 1.0


def test_village_wages_move_and_town_wages_do_not():
    small = ["population.scale=0.001", "run.end_year=2023"]
    on = ShanxiModel(config=compose(small))
    assert on.econ["rural_income_convergence"] == 1.0  # the default, as calibrated
    off = ShanxiModel(config=compose([*small, "economy.rural_income_convergence=0"]))
    village = on.economy.tier == VILLAGE
    for m in (on, off):
        m.run()
    f = markets.rural_wage_factor(on.econ, 2023)
    assert f > 1.01
    assert np.allclose(on.economy.wage[village], off.economy.wage[village] * f)
    assert (on.economy.wage[~village] == off.economy.wage[~village]).all()
