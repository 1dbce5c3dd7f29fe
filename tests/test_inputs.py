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
    shutil.copytree(DATA_DIR, tmp_path, dirs_exist_ok=True)
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


def test_every_unit_has_census_counts(counties):
    assert counties["urban_pop_2020"].dtype == np.int64
    assert (counties["urban_pop_2020"] <= counties["pop_2020_census"]).all()
    rate = 100 * counties["urban_pop_2020"] / counties["pop_2020_census"]
    assert (rate - counties["urbanization_rate_2020_pct"]).abs().max() <= 0.005 + 1e-9
    assert counties["source"].str.contains("中国人口普查分县资料-2020").all()
    # units that had no 2020 population (filled by a rule before) or a rounded one
    exact = counties.set_index(["county_zh", "city_en"])["pop_2020_census"]
    assert [exact[(zh, "Datong")] for zh in ("新荣区", "广灵县", "左云县")] == [88_664, 154_253, 117_943]
    assert [exact[(zh, "Jincheng")] for zh in ("沁水县", "阳城县", "陵川县")] == [196_528, 350_474, 204_825]
    assert exact[("河津市", "Yuncheng")] == 392_561  # was 392,600 (39.26万)


def test_2010_columns(counties):
    for column in ("pop_2010", "urban_pop_2010"):
        assert counties[column].dtype == "Int64"
    known = counties["pop_2010"].notna()
    assert known.sum() == 114
    assert (counties["urban_pop_2010"].notna() == known).all()
    assert (counties["urbanization_2010_pct"].notna() == known).all()
    assert (counties.loc[known, "urban_pop_2010"] <= counties.loc[known, "pop_2010"]).all()
    assert set(counties.loc[~known, "county_zh"]) == {"平城区", "云冈区", "云州区"}


def test_counties_are_the_census_tabulation(counties):
    """shanxi_counties.csv against census2020/counties_census2020_urban.csv (zones folded into their hosts)."""
    table = pd.read_csv(DATA_DIR / "census2020" / "counties_census2020_urban.csv")
    table = table[~table["county_type"].str.startswith("statistical zone")]
    table = table.assign(city_zh=table["city_zh"].str.removesuffix("市")).set_index(["county_zh", "city_zh"])
    keys = list(zip(counties["county_zh"], counties["city_zh"]))
    tab = table.loc[keys]
    assert (counties["type"].to_numpy() == tab["county_type"].to_numpy()).all()
    pop = tab["pop_2020_incl_zone"].fillna(tab["pop_2020"]).to_numpy()
    urban = tab["urban_pop_2020_incl_zone"].fillna(tab["urban_pop_2020"]).to_numpy()
    assert np.array_equal(counties["pop_2020_census"].to_numpy(), pop)
    assert np.array_equal(counties["urban_pop_2020"].to_numpy(), urban)
    np.testing.assert_array_equal(counties["pop_2010"].to_numpy(dtype=float, na_value=np.nan), tab["pop_2010"])
    np.testing.assert_array_equal(
        counties["urban_pop_2010"].to_numpy(dtype=float, na_value=np.nan), tab["urban_pop_2010"]
    )
    np.testing.assert_array_equal(counties["urbanization_2010_pct"].to_numpy(), tab["urbanization_2010_pct"])


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
    # the repairs and the urban-share rule are gone with the census tabulation
    removed = {"missing_county_population_2020", "rounded_county_population_2020", "urban_share_2020"}
    assert not removed & set(assumptions)


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
        t.loc[row, "urban_pop_2020"] = str(int(t.loc[row, "urban_pop_2020"]) + 1000)  # rate unchanged at 0.01 pp
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


@pytest.mark.parametrize("column", ["pop_2020_census", "urban_pop_2020"])
def test_blank_population_is_an_error(data_copy, column):
    def corrupt(t):
        t.loc[row_of(t, "Yangqu County"), column] = ""
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError, match=rf"^shanxi_counties\.csv, data row 8 \(Yangqu County\): {column} is blank$"):
        inputs.load_counties(data_copy)


def test_urban_above_population(data_copy):
    def corrupt(t):
        row = row_of(t, "Yangqu County")
        t.loc[row, "urban_pop_2020"] = str(int(t.loc[row, "pop_2020_census"]) + 1)
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError, match=r"data row 8 \(Yangqu County\): urban_pop_2020 \d+ exceeds pop_2020_census"):
        inputs.load_counties(data_copy)


def test_rate_inconsistent_with_counts(data_copy):
    def corrupt(t):
        t.loc[row_of(t, "Yangqu County"), "urbanization_2010_pct"] = "31.82"  # file: 29.82
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError, match=r"data row 8 \(Yangqu County\): urbanization_2010_pct 31.82 does not match"):
        inputs.load_counties(data_copy)


def test_2010_columns_given_together(data_copy):
    def corrupt(t):
        t.loc[row_of(t, "Yangqu County"), "urban_pop_2010"] = ""
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError, match=r"data row 8 \(Yangqu County\): pop_2010, urban_pop_2010 and .* together"):
        inputs.load_counties(data_copy)


def test_city_census_rate_broken(data_copy):
    def corrupt(t):
        # move 20,000 urban persons of Pingcheng to rural, rate restated: Datong's units no longer give 72.69%
        row = row_of(t, "Pingcheng District")
        urban = int(t.loc[row, "urban_pop_2020"]) - 20_000
        t.loc[row, "urban_pop_2020"] = str(urban)
        t.loc[row, "urbanization_rate_2020_pct"] = f"{100 * urban / int(t.loc[row, 'pop_2020_census']):.2f}"
        return t

    edit_csv(data_copy, inputs.COUNTIES_FILE, corrupt)
    with pytest.raises(DataError, match=r"city Datong .* the city's census rate in shanxi_cities\.csv is 72.69%"):
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
