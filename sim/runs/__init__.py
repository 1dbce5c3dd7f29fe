"""Runs: one projection into a folder with an atomic manifest (`run`, `outputs`), sweeps and their state
(`sweep`), gathering a sweep into one table (`gather`), points of a design (`design`) and logging (`logs`)."""
