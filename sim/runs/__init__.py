"""Runs: one projection into a folder with an atomic manifest (`run`, `outputs`), the identity of a
result (`identity`: config, code, data, behaviour fit, packages), one writer per run folder (`lock`),
the provenance of the behaviour fit (`provenance`), sweeps and their state (`sweep`), gathering a
sweep into one table (`gather`), points of a design (`design`) and logging (`logs`)."""
