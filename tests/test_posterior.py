"""The posterior of the fitted constants (sim/analysis/posterior.py) and the ensembles that draw from it
(sim/analysis/validate.py): priors stated, resampling by weight, members drawn from the shipped sample,
and the proper score (CRPS) of an ensemble forecast."""

import numpy as np
import pandas as pd
import pytest

from sim.analysis import calibrate, posterior, validate
from sim.config import compose, to_dict


def test_every_fitted_constant_has_a_stated_prior():
    priors = posterior.load_priors()
    assert list(priors) == list(calibrate.FITTED)
    assert all(sd > 0 for _, sd in priors.values())


def test_systematic_resampling_follows_the_weights():
    rng = np.random.default_rng(1)
    assert set(posterior.systematic_resample(np.array([0.0, 1.0, 0.0]), 10, rng)) == {1}
    idx = posterior.systematic_resample(np.array([0.25, 0.75]), 1000, rng)
    assert np.mean(idx == 1) == pytest.approx(0.75, abs=0.002)


def test_crps_of_an_ensemble():
    assert validate.crps_ensemble([3.0], 1.0) == pytest.approx(2.0)  # a point forecast: its absolute error
    assert validate.crps_ensemble([0.0, 1.0], 0.0) == pytest.approx(0.25)  # 0.5 - 0.5 / 2
    wide, sharp = np.linspace(-1, 1, 21), np.linspace(-0.1, 0.1, 21)
    assert validate.crps_ensemble(sharp, 0.0) < validate.crps_ensemble(wide, 0.0)  # sharper and right: better


def test_members_are_posterior_draws_with_the_seeds_in_turn(tmp_path):
    cfg = to_dict(compose([]))
    names = list(calibrate.FITTED)
    table = pd.DataFrame([[k + 1, *np.arange(len(names)) + k] for k in range(3)], columns=["draw", *names])
    table.to_csv(tmp_path / "posterior.csv", index=False)
    (tmp_path / "posterior.json").write_text('{"years": [2021, 2022], "method": "test"}')
    cfg["validation"] = {"posterior": str(tmp_path / "posterior.csv")}
    members, notes = validate.plan_members(cfg, [7, 8], 3)
    assert [(m.seed, m.draw) for m in members] == [(7, 1), (8, 2), (7, 3)]
    assert dict(members[1].parameters)["fitted.asc_stay"] == names.index("asc_stay") + 1
    assert "posterior" in notes[0] and "2021, 2022" in notes[0]
    cfg["validation"]["parameter_draws"] = 3
    assert validate.out_of_sample_statement(cfg, {"validation": [2023]}).startswith("Out of sample")
    with pytest.raises(ValueError, match="holds 3 draws"):
        validate.plan_members(cfg, [7], 4)
    cfg["validation"]["posterior"] = "none"  # back to seed members plus covariance draws
    members, _ = validate.plan_members(cfg, [7, 8], 1)
    assert [(m.seed, m.draw) for m in members] == [(7, 0), (8, 0), (7, 1)]


def test_the_design_spreads_every_dimension():
    lo, hi = np.zeros(3), np.array([1.0, 2.0, 4.0])
    a = posterior.latin_hypercube(lo, hi, 10, np.random.default_rng(5))
    b = posterior.latin_hypercube(lo, hi, 10, np.random.default_rng(5))
    assert np.array_equal(a, b)
    for k in range(3):  # one point in each tenth of every dimension
        assert sorted(np.floor(a[:, k] / hi[k] * 10).astype(int)) == list(range(10))


def test_the_design_box_stays_within_the_declared_ranges():
    """A fit on one year can have standard deviations so wide that the sampled box would reach values the
    model refuses (a rolling origin at 2021 reached stay_home_county_town = -15.8, range [-10, 20])."""
    names = list(calibrate.FITTED)
    centre = np.array([to_dict(compose([]))["behaviour"]["fitted"][k] for k in names], float)
    narrow = np.diag(np.full(len(names), 0.01))
    lo, hi = posterior.design_box(names, centre, narrow, 0.6)
    assert np.allclose(hi - lo, 2 * 3 * 0.6 * 0.1)  # a narrow fit: the plain box
    wide = np.diag(np.full(len(names), 1e4))  # sd 100
    lo, hi = posterior.design_box(names, centre, wide, 0.6)
    i = names.index("stay_home_county_town")
    assert (lo[i], hi[i]) == (-10.0, 20.0)
    from sim.config.parameters import declarations

    declared = np.array([declarations()[f"behaviour.fitted.{k}"]["range"] for k in names], float)
    assert (lo == declared[:, 0]).all() and (hi == declared[:, 1]).all()
    # with the priors, a wide fit's box stays within 4 prior standard deviations of the prior mean
    priors = posterior.load_priors()
    lo, hi = posterior.design_box(names, centre, wide, 0.6, priors)
    mean, sd = (np.array([priors[k][j] for k in names]) for j in (0, 1))
    assert np.allclose(lo, np.maximum(mean - 4 * sd, declared[:, 0]))
    assert np.allclose(hi, np.minimum(mean + 4 * sd, declared[:, 1]))
    # and leaves a narrow fit's box as it is
    assert posterior.design_box(names, centre, narrow, 0.6, priors)[0] == pytest.approx(centre - 0.18)


def test_a_quadratic_emulator_recovers_a_quadratic():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 2))
    y = 1 + 2 * x[:, 0] - x[:, 1] + 0.5 * x[:, 0] * x[:, 1] + 3 * x[:, 1] ** 2
    f = posterior.quadratic_features(x, np.zeros(2), np.ones(2))
    coef, *_ = np.linalg.lstsq(f, y, rcond=None)
    assert coef == pytest.approx([1, 2, -1, 0, 0.5, 3], abs=1e-9)  # 1, z0, z1, z0z0, z0z1, z1z1


def test_implausibility_rules_out_points_far_from_every_target():
    # an emulator that returns the parameters themselves as residuals (1, z0, z1; no quadratic terms needed)
    coef = np.zeros((6, 3))
    coef[1, 0] = coef[2, 1] = coef[1, 2] = 1.0  # residuals: z0, z1, z0
    em = {"centre": np.zeros(2), "sd": np.ones(2), "coef": coef, "variance": np.ones(3), "error_scale": 1.0}
    x = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    i = posterior.implausibility(x, em)
    assert i[0] == 0 and i[1] == pytest.approx(4.0) and i[2] == pytest.approx(4.0)  # the worst target counts
    em["variance"] = np.array([4.0, 16.0, 4.0])  # a poorer emulator (or model error) rules out less
    assert posterior.implausibility(x, em).tolist() == pytest.approx([0.0, 2.0, 1.0])


def test_information_shares_say_which_target_pins_which_constant():
    coef = np.zeros((6, 2))
    coef[1, 0], coef[2, 1], coef[2, 0] = 2.0, 1.0, 1.0  # target 0 on both constants, target 1 on the second
    shares = posterior.information_shares(coef, np.ones(2), np.ones(2), ["a", "b"], ["t0", "t1"])
    assert shares["a"] == {"t0": 1.0, "t1": 0.0}
    assert shares["b"] == {"t0": 0.5, "t1": 0.5}


@pytest.mark.slow
def test_a_small_posterior_sample():
    fit = to_dict(compose([]))["behaviour"]
    draws, rec, design = posterior.sample(
        0.002, 3, (2021, 2022), 4000, 4, 1.0, 1, fit, design_runs=50, check_runs=1, waves=2
    )
    assert list(draws.columns) == ["draw", *calibrate.FITTED] and len(draws) == 4
    assert 1 <= rec["effective_sample_size"] <= 4000 and rec["check"]["runs"] == 1
    assert set(rec["posterior"]) == set(calibrate.FITTED)
    assert [w["wave"] for w in rec["waves_detail"]] == [1, 2] and len(design) == 100
    assert set(design.wave) == {1, 2} and len(rec["targets"]) == design.shape[1] - 1 - len(calibrate.FITTED)
    assert set(rec["information_shares"]) == set(calibrate.FITTED)


def test_the_shipped_posterior_is_drawn(tmp_path):
    """Diagnostics of conf/behaviour/posterior.csv: pair plot, marginals against the priors, information."""
    from sim.analysis import posterior_plots

    files = posterior_plots.write_all(posterior.POSTERIOR_CSV, tmp_path)
    assert [f.name for f in files] == ["posterior_pairs.png", "posterior_marginals.png", "posterior_information.png"]
    assert all(f.stat().st_size > 20_000 and f.read_bytes()[:4] == b"\x89PNG" for f in files)
    record = posterior.POSTERIOR_CSV.with_suffix(".json").read_text()
    assert '"information_shares"' in record and '"waves_detail"' in record
