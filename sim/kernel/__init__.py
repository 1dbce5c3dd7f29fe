"""The monthly household rule, compiled with numba, split by concern:

- `types`: the records the rule reads (Static geography, Behaviour coefficients, a month's Conditions);
- `events`: the events of a household-month, their bounds and the screen of quiet households;
- `choice`: where a reconsidering household goes (options, utility, multinomial logit);
- `counts`: the place totals the rule keeps (stocks and the month's flows);
- `reclassify`: the yearly in-situ reclassification of villages to towns;
- `formation`: the yearly new households of young adults leaving home;
- `family`: the link between a leaver's household and its parents' (remittances, returns, reunion);
- `yearly`: the turn of the year's draws over every household in one pass (reclassification and leavers);
- `warmup`: on a cold numba cache, the yearly kernels compiled in a second process during a run's first month;
- `rule`: `step_households`, the one rule, stepped over every household (`step_all`) or one agent
  (`step_household`).
"""

from sim.kernel.choice import N_MOVER_TYPES, choice_probabilities, mover_column, mover_utilities, place_utility
from sim.kernel.counts import PLACE_COUNTERS, Counts, aggregate, count_rows, with_rows_changed, zero_counts
from sim.kernel.events import N_TYPES, event_bounds, event_slack, settle_combo
from sim.kernel.family import family_by_place, link_census_migrants
from sim.kernel.family import refresh as refresh_family
from sim.kernel.formation import form_households, leavers
from sim.kernel.reclassify import reclassify
from sim.kernel.rule import step_all, step_household
from sim.kernel.types import N_OPTIONS, N_SETTLE_COMBOS, Behaviour, Conditions, Static
from sim.kernel.yearly import reclassify_rows, year_rows

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
    "count_rows",
    "event_bounds",
    "event_slack",
    "family_by_place",
    "form_households",
    "leavers",
    "link_census_migrants",
    "mover_column",
    "mover_utilities",
    "place_utility",
    "reclassify",
    "reclassify_rows",
    "refresh_family",
    "settle_combo",
    "step_all",
    "step_household",
    "with_rows_changed",
    "year_rows",
    "zero_counts",
]
