"""Analysis of runs: calibration (`calibrate`), hindcast validation against naive forecasts (`validate`,
`naive`), scenario comparison (`compare`), sensitivity (`sensitivity`) and least-cost goal seeking (`seek`)."""
