"""The calibration's simulator runs on the real one-node Slurm cluster (python -m sim posterior --launcher
slurm): the same residuals as local runs, bit for bit, whatever the batching of the array tasks."""

from __future__ import annotations

import numpy as np

from sim.analysis import calibrate, posterior
from sim.config import compose, to_dict


def test_calibration_runs_on_slurm_equal_the_local_runs(slurm_cluster, tmp_path):
    fitted = to_dict(compose([]))["behaviour"]["fitted"]
    centre = np.array([fitted[k] for k in calibrate.FITTED])
    x = centre + np.outer([0.0, 0.3, -0.3], np.ones(len(centre)))  # three parameter points
    local = posterior._run(x, 0.0005, 3, (2021,), workers=1)
    launcher = {"name": "slurm", "folder": str(tmp_path / "submitit"), "runs_per_task": 2}  # tasks of 2 and 1
    on_slurm = posterior._run(x, 0.0005, 3, (2021,), workers=1, launcher=launcher)
    assert on_slurm.shape == local.shape == (3, len(calibrate.residual_names(calibrate.targets((2021,)))))
    assert np.array_equal(on_slurm, local)
    assert not np.array_equal(local[1], local[2])  # the points differ, so the order is checked too
