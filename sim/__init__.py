"""Shanxi's households, 2020 census to 2029: a Mesa model (`sim.model.ShanxiModel`) stepped by numba kernels.

The core: `model`, `state`, `rng`, `places`, `indicators`, and the packages `kernel` (the household rule),
`world` (geography, census population, data) and `economy` (markets, costs). Around it: `config`
(composition, parameters, schema), `runs` (run folders, sweeps), `analysis` (calibration, validation,
comparison, sensitivity, goal seeking) and `reporting` (report, plots, docs). `python -m sim` runs a
projection; `python -m sim <tool>` the tools (`python -m sim --tools`).
"""
