"""The monthly household rule, compiled with numba, split by concern:

- `types`: the records the rule reads (Static geography, Behaviour coefficients, a month's Conditions);
- `events`: the events of a household-month, their bounds and the screen of quiet households;
- `choice`: where a reconsidering household goes (options, utility, multinomial logit);
- `counts`: the place totals the rule keeps (stocks and the month's flows);
- `reclassify`: the yearly in-situ reclassification of villages to towns;
- `formation`: the yearly new households of young adults leaving home;
- `rule`: `step_households`, the one rule, stepped over every household (`step_all`) or one agent
  (`step_household`).
"""

from sim.kernel.choice import N_MOVER_TYPES, choice_probabilities, mover_column, mover_utilities, place_utility
from sim.kernel.counts import PLACE_COUNTERS, Counts, aggregate, zero_counts
from sim.kernel.events import N_TYPES, event_bounds, event_slack, settle_combo
from sim.kernel.formation import form_households, leavers
from sim.kernel.reclassify import reclassify
from sim.kernel.rule import step_all, step_household
from sim.kernel.types import N_OPTIONS, N_SETTLE_COMBOS, Behaviour, Conditions, Static

__all__ = [
    "N_MOVER_TYPES",
    "N_OPTIONS",
    "N_SETTLE_COMBOS",
    "N_TYPES",
    "PLACE_COUNTERS",
    "Behaviour",
    "Conditions",
    "Counts",
    "Static",
    "aggregate",
    "choice_probabilities",
    "event_bounds",
    "event_slack",
    "form_households",
    "leavers",
    "mover_column",
    "mover_utilities",
    "place_utility",
    "reclassify",
    "settle_combo",
    "step_all",
    "step_household",
    "zero_counts",
]
