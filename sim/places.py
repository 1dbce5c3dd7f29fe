"""Places, tiers and the calendar: the one home of the model's encodings.

Places. Each of the 117 county-level units u has an urban part (the district core or county seat),
place 2u, and a rural part (its villages), place 2u + 1; place 234 is everywhere outside Shanxi.
A household's `place` and `hukou` are place indices (hukou 234: a hukou of another province).

Tiers. Levers are set by tier of place (`scenarios/levers.yaml`): Taiyuan's district cores, other
prefecture cities' district cores, county seats (of counties and county-level cities) and villages.

Calendar. The model starts at the census (1 November 2020) and steps month by month; the plan runs
2025-2029, with a mid-term evaluation in 2027, measured from the end of 2024.
"""

import numba as nb

N_UNITS = 117  # county-level units (checked against the data on load)
N_PLACES = 2 * N_UNITS + 1  # urban + rural part of every unit, plus out of province
OUT_OF_PROVINCE = N_PLACES - 1  # = 234: the place (and hukou) index of everywhere outside Shanxi


@nb.njit(cache=True)
def urban_place(unit):
    """The urban part (district core or county seat) of a unit; also for an array of units."""
    return 2 * unit


@nb.njit(cache=True)
def rural_place(unit):
    """The rural part (villages) of a unit; also for an array of units."""
    return 2 * unit + 1


@nb.njit(cache=True)
def is_rural_place(place):
    """A village place (the rural part of a unit); False out of province."""
    return place % 2 == 1


# tiers of place, the regions of lever values (TIER_NAMES) in this order; OUTSIDE: out of province
TAIYUAN_CORE, PREFECTURE_CORE, COUNTY_SEAT, VILLAGE, OUTSIDE = range(5)
TIER_NAMES = ("taiyuan", "prefecture", "county_seat", "village")

# calendar
CENSUS_MONTH = (2020, 11)  # the starting state: the seventh census, 1 November 2020
PLAN_BASE_YEAR = 2024  # the plan is measured from the end of 2024; the baseline freezes policy there
PLAN_YEARS = tuple(range(2025, 2030))  # 2025-2029, the plan's period (实施方案 2025—2029年)
MID_TERM_YEAR = 2027  # mid-term evaluation
FINAL_YEAR = 2029  # final evaluation
TARGET_RESIDENT_RATE_PCT = 70.0  # 常住人口城镇化率接近70% by 2029 (the plan, section 二)


def month_calendar(month: int, start_year: int = CENSUS_MONTH[0]) -> tuple[int, int]:
    """(year, month of year) of model month `month` (0 = November of `start_year`, the census month:
    2020; 2010 in the decade hindcast)."""
    m = month + CENSUS_MONTH[1] - 1
    return start_year + m // 12, m % 12 + 1


def months_until(end_year: int, start_year: int = CENSUS_MONTH[0]) -> int:
    """Model months from the census month of `start_year` to the end of `end_year`."""
    return (end_year - start_year) * 12 + (12 - CENSUS_MONTH[1]) + 1
