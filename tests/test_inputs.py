"""Loaders in sim/world/inputs.py: the real data loads, corrupted copies raise DataError."""

import shutil

import numpy as np
import pandas as pd
import pytest

from sim.world import inputs
from sim.world.inputs import DATA_DIR, DataError

PROVINCE_CENSUS_2020 = 34_915_616


@pytest.fixture(scope="module")
def counties():
    return inputs.load_counties()


@pytest.fixture(scope="module")
def city_series():
    return inputs.load_city_series()


@pytest.fixture
def data_copy(tmp_path):
    """A writable copy of sim/world/data to corrupt."""
    for path in DATA_DIR.iterdir():
        if path.is_file():
            shutil.copyfile(path, tmp_path / path.name)
    return tmp_path


def edit_csv(folder, file, change):
    """Read a CSV of the copy as text, apply change(table), write it back."""
    table = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
    table = change(table)
    table.to_csv(folder / file, index=False)


def row_of(table, county_en):
    return int(np.flatnonzero(table["county_en"] == county_en)[0])


# --- the real data --------------------------------------------------------------------


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


def test_counties_shape_and_order(counties):
    raw = pd.read_csv(DATA_DIR / inputs.COUNTIES_FILE)
    assert len(counties) == 117
    assert counties["county_en"].tolist() == raw["county_en"].tolist()
    assert counties["city_en"].nunique() == 11
    assert counties["type"].value_counts().to_dict() == {"county": 80, "district": 26, "county-level city": 11}
    assert counties["pop_2020_census"].dtype == np.int64
    assert counties[["lat", "lon"]].notna().all().all()


def test_missing_populations_filled_from_city_residual(counties):
    filled = counties[counties["pop_2020_filled"]]
    assert sorted(filled["county_zh"]) == sorted(["新荣区", "广灵县", "左云县", "沁水县", "阳城县"])
    by_city = filled.groupby("city_en")["pop_2020_census"]
    assert by_city.sum().to_dict() == {"Datong": 360_860, "Jincheng": 547_027}
    # equal split (no complete 2010 data in either group), whole persons
    assert by_city.max().sub(by_city.min()).max() <= 1


def test_rounded_populations_adjusted_only_slightly(counties):
    adjusted = counties[counties["pop_2020_rounding_adjusted"]]
    assert set(adjusted["city_en"]) == {"Yuncheng"}
    assert (adjusted["pop_2020_census"] - adjusted["pop_2020_published"]).abs().max() <= 50
    unchanged = counties[~counties["pop_2020_rounding_adjusted"] & ~counties["pop_2020_filled"]]
    assert (unchanged["pop_2020_census"] == unchanged["pop_2020_published"]).all()


def test_city_sums_match_census(counties, city_series):
    census = inputs.city_census_totals(city_series)
    sums = counties.groupby("city_en")["pop_2020_census"].sum().to_dict()
    assert sums == census
    assert counties["pop_2020_census"].sum() == PROVINCE_CENSUS_2020


def test_city_series_is_tidy(city_series):
    assert set(city_series["kind"]) == {"census", "year_end"}
    assert city_series["year"].dtype == np.int64
    assert not city_series.duplicated(["city_en", "year", "kind"]).any()
    xinzhou = city_series[(city_series["city_en"] == "Xinzhou") & (city_series["year"] == 2020)].set_index("kind")
    assert xinzhou.loc["census", "resident_pop_10k"] == pytest.approx(268.9668)
    assert xinzhou.loc["census", "urbanization_rate_pct"] == pytest.approx(53.78)
    datong = city_series[(city_series["city_en"] == "Datong") & (city_series["year"] == 2020)]
    assert datong["urbanization_rate_pct"].tolist() == [72.69]  # merged with the census count row
    assert (city_series["conflicts"] == "").all()


def test_province_series():
    province = inputs.load_province_series()
    assert province["year"].tolist() == list(range(2014, 2024))
    rates = province.set_index("year")["urbanization_rate_pct"]
    assert rates[2020] == 62.53 and rates[2023] == 64.97


def test_data_file_hashes(data_copy):
    hashes = inputs.data_file_hashes()
    assert {inputs.COUNTIES_FILE, inputs.CITIES_FILE, inputs.GEOGRAPHY_ASSUMPTIONS_FILE} <= set(hashes)
    assert all(len(h) == 64 for h in hashes.values())
    assert inputs.data_file_hashes(data_copy) == hashes
    (data_copy / inputs.PROVINCE_FILE).write_text("changed")
    assert inputs.data_file_hashes(data_copy)[inputs.PROVINCE_FILE] != hashes[inputs.PROVINCE_FILE]


def test_assumptions_are_all_documented():
    assumptions = inputs.load_assumptions()
    assert assumptions["distance"]["road_circuity"]["value"] == 1.3


# --- corrupted copies -----------------------------------------------------------------


def test_non_numeric_population(data_copy):
    def corrupt(t):
        t.loc[row_of(t, "Xinghualing District"), "pop_2020_census"] = "77 万"
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError) as error:
        inputs.load_counties(data_copy)
    message = str(error.value)
    assert "shanxi_counties.csv" in message and "data row 3" in message and "Xinghualing District" in message
    assert "not a number" in message


def test_negative_population(data_copy):
    def corrupt(t):
        t.loc[row_of(t, "Gujiao"), "pop_2010_census"] = "-5"
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError, match=r"shanxi_counties\.csv, data row 10 \(Gujiao\).*negative"):
        inputs.load_counties(data_copy)


def test_removed_column(data_copy):
    edit_csv(data_copy, inputs.COUNTIES_FILE, lambda t: t.drop(columns="area_km2"))
    with pytest.raises(DataError, match=r"shanxi_counties\.csv, header row: missing column\(s\) \['area_km2'\]"):
        inputs.load_counties(data_copy)


def test_extra_column(data_copy):
    edit_csv(data_copy, inputs.PROVINCE_FILE, lambda t: t.assign(notes=""))
    with pytest.raises(DataError, match=r"shanxi_province\.csv, header row: unexpected column\(s\) \['notes'\]"):
        inputs.load_province_series(data_copy)


def test_unknown_city(data_copy):
    def corrupt(t):
        t.loc[row_of(t, "Wanbailin District"), "city_en"] = "Beijing"
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError) as error:
        inputs.load_counties(data_copy)
    message = str(error.value)
    assert "shanxi_counties.csv" in message and "data row 5" in message and "Wanbailin District" in message
    assert "'Beijing' is not one of the 11 known cities" in message


def test_city_sum_broken(data_copy):
    def corrupt(t):
        row = row_of(t, "Xiaodian District")
        t.loc[row, "pop_2020_census"] = str(int(t.loc[row, "pop_2020_census"]) + 1000)
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError) as error:
        inputs.load_counties(data_copy)
    message = str(error.value)
    assert "shanxi_counties.csv" in message and "city Taiyuan" in message
    assert "1 (Xiaodian District)" in message and "difference +1,000" in message


def test_duplicated_unit(data_copy):
    def corrupt(t):
        t.loc[row_of(t, "Yingze District"), "county_en"] = "Xiaodian District"
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError, match=r"shanxi_counties\.csv: duplicated unit .*data row 1 .*data row 2"):
        inputs.load_counties(data_copy)


def test_missing_seat(data_copy):
    edit_csv(data_copy, inputs.COUNTY_SEATS_FILE, lambda t: t[t["county_en"] != "Loufan County"])
    with pytest.raises(DataError, match=r"shanxi_counties\.csv, data row 9 \(Loufan County\): no seat coordinates"):
        inputs.load_counties(data_copy)


def test_unexpected_missing_population(data_copy):
    def corrupt(t):
        t.loc[row_of(t, "Yangqu County"), "pop_2020_census"] = ""
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError, match=r"data row 8 \(Yangqu County\): pop_2020_census is blank and not covered"):
        inputs.load_counties(data_copy)


def test_province_census_total_mismatch(data_copy):
    def corrupt(t):
        row = np.flatnonzero((t["city_en"] == "Taiyuan") & (t["year"] == "2020 (census 1 Nov)"))[0]
        t.loc[row, "resident_pop_10k"] = "530.4062"
        return t

    edit_csv(data_copy, inputs.CITIES_FILE, corrupt)
    with pytest.raises(DataError, match=r"shanxi_cities\.csv: .* sum to 34,915,617 persons"):
        inputs.load_counties(data_copy)


def test_unparseable_city_year(data_copy):
    def corrupt(t):
        t.loc[3, "year"] = "2015?"
        return t

    edit_csv(data_copy, inputs.CITIES_FILE, corrupt)
    with pytest.raises(DataError, match=r"shanxi_cities\.csv, data row 4 \(Taiyuan\): year '2015\?'"):
        inputs.load_city_series(data_copy)


def test_conflicting_duplicates_keep_first_and_are_recorded(data_copy):
    def corrupt(t):
        # Taiyuan 2021 appears twice (rows 11 and 12): make the second disagree
        t.loc[11, "resident_pop_10k"] = "540.00"
        return t

    edit_csv(data_copy, inputs.CITIES_FILE, corrupt)
    series = inputs.load_city_series(data_copy)
    taiyuan_2021 = series[(series["city_en"] == "Taiyuan") & (series["year"] == 2021)].iloc[0]
    assert taiyuan_2021["resident_pop_10k"] == pytest.approx(539.10)
    assert taiyuan_2021["urbanization_rate_pct"] == pytest.approx(89.23)
    assert "ignored 540 (row 12)" in taiyuan_2021["conflicts"]


def test_undocumented_assumption(data_copy):
    path = data_copy / inputs.GEOGRAPHY_ASSUMPTIONS_FILE
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    unit: road km per great-circle km\n", ""), encoding="utf-8")
    with pytest.raises(DataError, match=r"assumptions_geography\.yaml, entry distance\.road_circuity: no 'unit'"):
        inputs.load_assumptions(data_copy)
