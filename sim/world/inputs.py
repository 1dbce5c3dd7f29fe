"""Load and validate the Shanxi data files in ``sim/world/data``.

Every loader checks its file as it reads it and raises :class:`DataError` when something
is wrong. The message names the file, the 1-based data row (the header is not counted)
with the unit or city it describes, and the problem, e.g.::

    shanxi_counties.csv, data row 3 (Xinghualing District): pop_2020_census 'abc' is not a number

Units: populations in persons unless a column says ``_10k`` (万 = 10,000 persons); rates in
percent; coordinates in degrees (GCJ-02, as published).

The county file carries the census county tabulation for every unit (2020 population and
urban population, 2010 where the tabulation has it; see SOURCES.md and ``census2020/``).
Nothing is filled in or repaired: a blank 2020 population or urban population is a DataError,
and every city's units must sum exactly to its census total.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"

COUNTIES_FILE = "shanxi_counties.csv"
COUNTY_SEATS_FILE = "county_seats.csv"
CITY_SEATS_FILE = "city_seats.csv"
CITIES_FILE = "shanxi_cities.csv"
PROVINCE_FILE = "shanxi_province.csv"
GEOGRAPHY_ASSUMPTIONS_FILE = "assumptions_geography.yaml"

# Shape of Shanxi's administration since 2019 (117 county-level units in 11 prefecture-level
# cities, facts.md); the loaders check the files against it.
N_COUNTY_UNITS = 117
N_CITIES = 11
UNIT_TYPES = ("district", "county-level city", "county")
PERSONS_PER_10K = 10_000

COUNTY_COLUMNS = [
    "county_zh",
    "county_en",
    "city_zh",
    "city_en",
    "type",
    "pop_2020_census",
    "pop_2010_census",
    "area_km2",
    "urban_pop_2020",
    "urbanization_rate_2020_pct",
    "pop_2010",
    "urban_pop_2010",
    "urbanization_2010_pct",
    "source",
]
COUNTY_SEAT_COLUMNS = ["county_zh", "county_en", "city_en", "admin_code", "lat", "lon", "source"]
CITY_SEAT_COLUMNS = ["city_zh", "city_en", "admin_code", "lat", "lon", "source"]
CITY_COLUMNS = [
    "city_zh",
    "city_en",
    "year",
    "resident_pop_10k",
    "urbanization_rate_pct",
    "n_county_divisions",
    "source",
]
PROVINCE_COLUMNS = [
    "year",
    "resident_pop_10k",
    "urbanization_rate_pct",
    "hukou_urbanization_rate_pct",
    "national_urbanization_rate_pct",
    "urban_disp_income_yuan",
    "rural_disp_income_yuan",
    "source",
]

# How two rows of the city file for the same city, year and kind may differ before the
# difference is recorded as a conflict (the first row's value is kept either way).
CITY_DUPLICATE_TOLERANCE = 0.1

# '2021', '2010 (census)', '2020 (census 1 Nov)', '2020 (year-end)'
_YEAR_PATTERN = re.compile(r"^(\d{4})(?:\s*\((census(?: 1 Nov)?|year-end)\))?$")


class DataError(ValueError):
    """A data file in sim/world/data is malformed or inconsistent with the others."""


# --------------------------------------------------------------------------------------
# small helpers


def _data_dir(data_dir: str | Path | None) -> Path:
    return DATA_DIR if data_dir is None else Path(data_dir)


def _where(file: str, row: int, name: str) -> str:
    """'file, data row N (name)' with N 1-based, header not counted."""
    return f"{file}, data row {row} ({name})"


def _read_csv(data_dir: Path, file: str, columns: list[str]) -> pd.DataFrame:
    """Read a CSV as text (blank cells become '') and check its columns exactly."""
    path = data_dir / file
    if not path.is_file():
        raise DataError(f"{file}: file not found in {data_dir}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{file}: cannot be parsed as CSV: {error}") from error
    missing = [c for c in columns if c not in table.columns]
    extra = [c for c in table.columns if c not in columns]
    if missing or extra:
        problems = []
        if missing:
            problems.append(f"missing column(s) {missing}")
        if extra:
            problems.append(f"unexpected column(s) {extra}")
        raise DataError(f"{file}, header row: {'; '.join(problems)}; expected {columns}")
    if table.empty:
        raise DataError(f"{file}: no data rows")
    return table[columns].apply(lambda col: col.str.strip())


def _numbers(
    table: pd.DataFrame,
    column: str,
    file: str,
    names: pd.Series,
    *,
    required: bool = False,
    whole: bool = False,
    upper: float | None = None,
) -> np.ndarray:
    """Parse one column as non-negative floats (blank -> NaN), naming the row on failure.

    whole: the value must be a whole number (a count of persons); upper: largest allowed value.
    """
    values = np.full(len(table), np.nan)
    for i, text in enumerate(table[column]):
        where = _where(file, i + 1, names.iloc[i])
        if text == "":
            if required:
                raise DataError(f"{where}: {column} is blank")
            continue
        try:
            value = float(text.replace(",", ""))
        except ValueError:
            raise DataError(f"{where}: {column} {text!r} is not a number") from None
        if not np.isfinite(value):
            raise DataError(f"{where}: {column} {text!r} is not a finite number")
        if value < 0:
            raise DataError(f"{where}: {column} {value:g} is negative")
        if whole and value != round(value):
            raise DataError(f"{where}: {column} {value:g} is not a whole number of persons")
        if upper is not None and value > upper:
            raise DataError(f"{where}: {column} {value:g} is above {upper:g}")
        values[i] = value
    return values


def _check_unique(table: pd.DataFrame, key: list[str], file: str, names: pd.Series) -> None:
    duplicated = table.duplicated(key, keep=False)
    if duplicated.any():
        rows = np.flatnonzero(duplicated.to_numpy())
        listed = ", ".join(f"data row {r + 1} ({names.iloc[r]})" for r in rows)
        raise DataError(f"{file}: duplicated unit ({' + '.join(key)}) in {listed}")


# --------------------------------------------------------------------------------------
# assumptions file


def load_assumptions(data_dir: str | Path | None = None, file: str = GEOGRAPHY_ASSUMPTIONS_FILE) -> dict:
    """Read an assumptions YAML file and check that every entry is documented.

    An entry is any mapping with a ``value`` key; it must also have ``unit`` and either
    ``source`` or ``assumption``. Returns the parsed file as nested dicts and lists.
    """
    path = _data_dir(data_dir) / file
    if not path.is_file():
        raise DataError(f"{file}: file not found in {path.parent}")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise DataError(f"{file}: cannot be parsed as YAML: {error}") from error
    if not isinstance(content, dict):
        raise DataError(f"{file}: expected a mapping at the top level")

    def check(node, key_path: str) -> None:
        if isinstance(node, dict):
            if "value" in node:
                if "unit" not in node:
                    raise DataError(f"{file}, entry {key_path}: no 'unit'")
                if "source" not in node and "assumption" not in node:
                    raise DataError(f"{file}, entry {key_path}: neither 'source' nor 'assumption'")
            for key, child in node.items():
                check(child, f"{key_path}.{key}" if key_path else str(key))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                check(child, f"{key_path}[{i}]")

    check(content, "")
    return content


# --------------------------------------------------------------------------------------
# seats


def load_city_seats(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The 11 prefecture-level cities: city_zh, city_en, admin_code, lat, lon (degrees)."""
    file = CITY_SEATS_FILE
    raw = _read_csv(_data_dir(data_dir), file, CITY_SEAT_COLUMNS)
    names = raw["city_en"]
    _check_unique(raw, ["city_en"], file, names)
    if len(raw) != N_CITIES:
        raise DataError(f"{file}: {len(raw)} cities, expected {N_CITIES}")
    seats = raw[["city_zh", "city_en", "admin_code"]].copy()
    seats["lat"] = _numbers(raw, "lat", file, names, required=True, upper=90.0)
    seats["lon"] = _numbers(raw, "lon", file, names, required=True, upper=180.0)
    return seats


def _load_county_seats(data_dir: Path) -> pd.DataFrame:
    file = COUNTY_SEATS_FILE
    raw = _read_csv(data_dir, file, COUNTY_SEAT_COLUMNS)
    names = raw["county_en"]
    _check_unique(raw, ["county_zh", "city_en"], file, names)
    seats = raw[["county_zh", "county_en", "city_en", "admin_code"]].copy()
    seats["lat"] = _numbers(raw, "lat", file, names, required=True, upper=90.0)
    seats["lon"] = _numbers(raw, "lon", file, names, required=True, upper=180.0)
    seats["seat_row"] = np.arange(1, len(seats) + 1)
    return seats


# --------------------------------------------------------------------------------------
# city and province series


def _parse_city_year(text: str, where: str) -> tuple[int, str]:
    match = _YEAR_PATTERN.match(text)
    if match is None:
        raise DataError(f"{where}: year {text!r} is not 'YYYY', 'YYYY (census...)' or 'YYYY (year-end)'")
    year, label = match.groups()
    return int(year), ("census" if label and label.startswith("census") else "year_end")


def load_city_series(data_dir: str | Path | None = None) -> pd.DataFrame:
    """City population and urbanization by year, one row per city, year and kind.

    Columns: city_en, year (int), kind ('census': census count, 1 Nov 2020 or 1 Nov 2010;
    'year_end': year-end estimate), resident_pop_10k (万 persons), urbanization_rate_pct (%),
    n_county_divisions (current count of county-level units), source_rows (the 1-based data
    rows merged, ';'-separated) and conflicts ('' or a note).

    Rows for the same city, year and kind are merged column by column: the first non-blank
    value is kept; if a later non-blank value differs from it by more than 0.1 the first is
    still kept and the disagreement is recorded in `conflicts`.
    Sorted by city (order of city_seats.csv), year, then census before year_end.
    """
    data_dir = _data_dir(data_dir)
    file = CITIES_FILE
    raw = _read_csv(data_dir, file, CITY_COLUMNS)
    names = raw["city_en"]
    cities = load_city_seats(data_dir)
    zh_of_city = dict(zip(cities["city_en"], cities["city_zh"]))

    years, kinds = [], []
    for i, (city_en, city_zh, year_text) in enumerate(raw[["city_en", "city_zh", "year"]].itertuples(index=False)):
        where = _where(file, i + 1, city_en)
        if city_en not in zh_of_city:
            raise DataError(f"{where}: city {city_en!r} is not one of the {N_CITIES} known cities ({CITY_SEATS_FILE})")
        if city_zh.removesuffix("市") != zh_of_city[city_en]:
            raise DataError(f"{where}: city_zh {city_zh!r} does not match {zh_of_city[city_en]!r} ({CITY_SEATS_FILE})")
        year, kind = _parse_city_year(year_text, where)
        years.append(year)
        kinds.append(kind)

    table = pd.DataFrame(
        {
            "city_en": raw["city_en"],
            "year": np.array(years, dtype=np.int64),
            "kind": kinds,
            "resident_pop_10k": _numbers(raw, "resident_pop_10k", file, names),
            "urbanization_rate_pct": _numbers(raw, "urbanization_rate_pct", file, names, upper=100.0),
            "n_county_divisions": _numbers(raw, "n_county_divisions", file, names, required=True, whole=True),
            "row": np.arange(1, len(raw) + 1),
        }
    )

    for city, divisions in table.groupby("city_en", sort=False)["n_county_divisions"]:
        if divisions.nunique() != 1:
            row = int(table.loc[divisions.index[divisions != divisions.iloc[0]][0], "row"])
            raise DataError(f"{_where(file, row, city)}: n_county_divisions differs from the city's other rows")

    merged = []
    for (city, year, kind), group in table.groupby(["city_en", "year", "kind"], sort=False):
        record = {"city_en": city, "year": year, "kind": kind}
        conflicts = []
        for column in ("resident_pop_10k", "urbanization_rate_pct", "n_county_divisions"):
            present = group[group[column].notna()]
            record[column] = present[column].iloc[0] if len(present) else np.nan
            for _, later in present.iloc[1:].iterrows():
                if abs(later[column] - record[column]) > CITY_DUPLICATE_TOLERANCE:
                    conflicts.append(
                        f"{column}: kept {record[column]:g} (row {present['row'].iloc[0]}), "
                        f"ignored {later[column]:g} (row {later['row']})"
                    )
        record["source_rows"] = ";".join(str(r) for r in group["row"])
        record["conflicts"] = "; ".join(conflicts)
        merged.append(record)

    series = pd.DataFrame(merged)
    series["n_county_divisions"] = series["n_county_divisions"].astype(np.int64)
    city_order = {city: i for i, city in enumerate(cities["city_en"])}
    series = series.sort_values(
        ["city_en", "year", "kind"],
        key=lambda col: col.map(city_order) if col.name == "city_en" else col,
        kind="stable",
    )
    return series.reset_index(drop=True)


def load_province_series(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Shanxi, one row per year (2014-2023).

    Columns: year (int); resident_pop_10k (year-end, 万 persons); urbanization_rate_pct,
    hukou_urbanization_rate_pct, national_urbanization_rate_pct (%); urban_disp_income_yuan,
    rural_disp_income_yuan (yuan per person per year); source. Blank cells are NaN.
    NB: the 2020 urbanization rate is the census value (1 Nov 2020), see its source.
    """
    file = PROVINCE_FILE
    raw = _read_csv(_data_dir(data_dir), file, PROVINCE_COLUMNS)
    names = raw["year"]
    table = pd.DataFrame({"year": _numbers(raw, "year", file, names, required=True, whole=True).astype(np.int64)})
    rate_columns = ["urbanization_rate_pct", "hukou_urbanization_rate_pct", "national_urbanization_rate_pct"]
    for column in PROVINCE_COLUMNS[1:-1]:
        table[column] = _numbers(raw, column, file, names, upper=100.0 if column in rate_columns else None)
    table["source"] = raw["source"]
    _check_unique(table, ["year"], file, names)
    if not table["year"].is_monotonic_increasing:
        raise DataError(f"{file}: years are not in increasing order")
    return table


# --------------------------------------------------------------------------------------
# counties


def city_census_totals(city_series: pd.DataFrame) -> dict[str, int]:
    """Each city's 2020 census population in persons, from load_city_series()."""
    rows = city_series[(city_series["year"] == 2020) & (city_series["kind"] == "census")]
    totals = {}
    for city, pop_10k in zip(rows["city_en"], rows["resident_pop_10k"]):
        if np.isnan(pop_10k):
            continue
        persons = pop_10k * PERSONS_PER_10K
        if abs(persons - round(persons)) > 1e-3:
            raise DataError(
                f"{CITIES_FILE}: {city} 2020 census population {pop_10k} 万 is not a whole number of persons"
            )
        totals[city] = int(round(persons))
    return totals


def load_counties(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The 117 county-level units, in file order, validated.

    Columns: county_zh, county_en, city_zh, city_en, type ('district', 'county-level city',
    'county'); pop_2020_census, urban_pop_2020 (int64 persons, census 1 Nov 2020, from the
    county tabulation with the 4 statistical zones folded into their host units);
    urbanization_rate_2020_pct (float %); pop_2010_census (nullable Int64 persons, the earlier
    secondary collection, kept for provenance); area_km2 (float km2); pop_2010, urban_pop_2010
    (nullable Int64 persons, 2010 census tabulation; <NA> where it has no matching unit);
    urbanization_2010_pct (float %, NaN likewise); source; admin_code, lat, lon (seat, degrees
    GCJ-02).

    Checks: every unit has a 2020 population and urban population (a blank is a DataError
    naming the row and column); urban <= population and the stated rate matches urban /
    population (2020 and 2010); the 2010 columns are given together or not at all; units are
    unique and each has a seat; every city's units sum exactly to its 2020 census total in
    shanxi_cities.csv, and their urban share matches a 2020 census rate stated there.
    """
    data_dir = _data_dir(data_dir)
    assumptions = load_assumptions(data_dir)
    file = COUNTIES_FILE
    raw = _read_csv(data_dir, file, COUNTY_COLUMNS)
    names = raw["county_en"].where(raw["county_en"] != "", raw["county_zh"])

    cities = load_city_seats(data_dir)
    zh_of_city = dict(zip(cities["city_en"], cities["city_zh"]))
    for i, row in enumerate(raw.itertuples(index=False)):
        where = _where(file, i + 1, names.iloc[i])
        if row.county_zh == "" or row.county_en == "":
            raise DataError(f"{where}: county_zh and county_en must both be given")
        if row.city_en not in zh_of_city:
            raise DataError(
                f"{where}: city {row.city_en!r} is not one of the {N_CITIES} known cities ({CITY_SEATS_FILE})"
            )
        if row.city_zh != zh_of_city[row.city_en]:
            raise DataError(
                f"{where}: city_zh {row.city_zh!r} does not match {row.city_en} = {zh_of_city[row.city_en]!r}"
            )
        if row.type not in UNIT_TYPES:
            raise DataError(f"{where}: type {row.type!r} is not one of {list(UNIT_TYPES)}")
    _check_unique(raw, ["county_zh", "city_en"], file, names)
    _check_unique(raw, ["county_en"], file, names)
    if len(raw) != N_COUNTY_UNITS:
        raise DataError(f"{file}: {len(raw)} county-level units, expected {N_COUNTY_UNITS}")

    tolerance = assumptions["unit_urban_rate_tolerance"]["value"]
    census_counts = {}
    for columns, required in (
        (("pop_2020_census", "urban_pop_2020", "urbanization_rate_2020_pct"), True),
        (("pop_2010", "urban_pop_2010", "urbanization_2010_pct"), False),
    ):
        pop_col, urban_col, rate_col = columns
        pop = _numbers(raw, pop_col, file, names, required=required, whole=True)
        urban = _numbers(raw, urban_col, file, names, required=required, whole=True)
        rate = _numbers(raw, rate_col, file, names, required=required, upper=100.0)
        _check_urban(file, names, columns, pop, urban, rate, tolerance)
        census_counts.update({pop_col: pop, urban_col: urban, rate_col: rate})

    counties = raw[["county_zh", "county_en", "city_zh", "city_en", "type"]].copy()
    counties["pop_2020_census"] = census_counts["pop_2020_census"].astype(np.int64)
    counties["urban_pop_2020"] = census_counts["urban_pop_2020"].astype(np.int64)
    counties["urbanization_rate_2020_pct"] = census_counts["urbanization_rate_2020_pct"]
    counties["pop_2010_census"] = pd.array(_numbers(raw, "pop_2010_census", file, names, whole=True), dtype="Int64")
    counties["area_km2"] = _numbers(raw, "area_km2", file, names)
    counties["pop_2010"] = pd.array(census_counts["pop_2010"], dtype="Int64")
    counties["urban_pop_2010"] = pd.array(census_counts["urban_pop_2010"], dtype="Int64")
    counties["urbanization_2010_pct"] = census_counts["urbanization_2010_pct"]
    counties["source"] = raw["source"]

    counties = _join_seats(counties, _load_county_seats(data_dir), names)

    city_series = load_city_series(data_dir)
    _check_division_counts(counties, city_series)
    census = city_census_totals(city_series)
    _check_province_total(census, assumptions["census_2020"]["province_population"]["value"])
    _check_city_sums(counties, census)
    _check_city_census_rates(counties, city_series, tolerance)
    return counties


def _check_urban(file, names, columns, pop, urban, rate, tolerance_pp) -> None:
    """Population, urban population and rate of one census year: all given or all blank,
    urban <= population, rate = 100 x urban / population within the tolerance."""
    pop_col, urban_col, rate_col = columns
    for i in range(len(pop)):
        where = _where(file, i + 1, names.iloc[i])
        given = [not np.isnan(v[i]) for v in (pop, urban, rate)]
        if any(given) and not all(given):
            raise DataError(f"{where}: {pop_col}, {urban_col} and {rate_col} must be given together (or all blank)")
        if not all(given):
            continue
        if urban[i] > pop[i]:
            raise DataError(f"{where}: {urban_col} {urban[i]:g} exceeds {pop_col} {pop[i]:g}")
        if pop[i] == 0:
            raise DataError(f"{where}: {pop_col} is 0")
        if abs(100 * urban[i] / pop[i] - rate[i]) > tolerance_pp:
            raise DataError(
                f"{where}: {rate_col} {rate[i]:g} does not match "
                f"{urban_col} / {pop_col} = {100 * urban[i] / pop[i]:.4f}"
            )


def _join_seats(counties: pd.DataFrame, seats: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """Attach each unit's seat (joined on county_zh + city_en); every unit needs exactly one."""
    joined = counties.merge(
        seats.rename(columns={"county_en": "seat_county_en"}),
        on=["county_zh", "city_en"],
        how="left",
        validate="one_to_one",
    )
    for i in range(len(joined)):
        where = _where(COUNTIES_FILE, i + 1, names.iloc[i])
        if pd.isna(joined.at[i, "seat_row"]):
            raise DataError(f"{where}: no seat coordinates in {COUNTY_SEATS_FILE} (joined on county_zh + city_en)")
        if joined.at[i, "seat_county_en"] != joined.at[i, "county_en"]:
            raise DataError(
                f"{where}: {COUNTY_SEATS_FILE} data row {int(joined.at[i, 'seat_row'])} names this unit "
                f"{joined.at[i, 'seat_county_en']!r}"
            )
    unused = seats[~seats["seat_row"].isin(joined["seat_row"])]
    if len(unused):
        first = unused.iloc[0]
        raise DataError(
            f"{_where(COUNTY_SEATS_FILE, int(first['seat_row']), first['county_en'])}: "
            f"seat of a unit that is not in {COUNTIES_FILE}"
        )
    return joined.drop(columns=["seat_county_en", "seat_row"])


def _check_division_counts(counties: pd.DataFrame, city_series: pd.DataFrame) -> None:
    stated = city_series.groupby("city_en", sort=False)["n_county_divisions"].first()
    counted = counties.groupby("city_en", sort=False).size()
    for city, n_units in counted.items():
        if city not in stated.index:
            raise DataError(f"{CITIES_FILE}: no rows for city {city}")
        if stated[city] != n_units:
            rows = _rows_of_city(counties, city)
            raise DataError(
                f"{COUNTIES_FILE}, city {city} ({rows}): {n_units} units, but {CITIES_FILE} "
                f"says n_county_divisions = {stated[city]}"
            )


def _check_province_total(census: dict[str, int], province_population: int) -> None:
    if len(census) != N_CITIES:
        raise DataError(f"{CITIES_FILE}: 2020 census population found for {len(census)} cities, expected {N_CITIES}")
    total = sum(census.values())
    if total != province_population:
        raise DataError(
            f"{CITIES_FILE}: the 2020 census rows of the cities sum to {total:,} persons, "
            f"the province census total is {province_population:,} ({GEOGRAPHY_ASSUMPTIONS_FILE})"
        )


def _rows_of_city(counties: pd.DataFrame, city: str) -> str:
    rows = np.flatnonzero((counties["city_en"] == city).to_numpy()) + 1
    return "data rows " + ", ".join(f"{r} ({counties['county_en'].iloc[r - 1]})" for r in rows)


def _check_city_sums(counties: pd.DataFrame, census: dict[str, int]) -> None:
    sums = counties.groupby("city_en", sort=False)["pop_2020_census"].sum()
    for city, total in sums.items():
        if total != census[city]:
            raise DataError(
                f"{COUNTIES_FILE}, city {city} ({_rows_of_city(counties, city)}): units sum to {total:,} persons, "
                f"the city's 2020 census total in {CITIES_FILE} is {census[city]:,} "
                f"(difference {total - census[city]:+,})"
            )


def _check_city_census_rates(counties: pd.DataFrame, city_series: pd.DataFrame, tolerance_pp: float) -> None:
    """Where shanxi_cities.csv states a city's 2020 census urbanization rate, its units must reproduce it."""
    rows = city_series[
        (city_series["year"] == 2020) & (city_series["kind"] == "census") & city_series["urbanization_rate_pct"].notna()
    ]
    sums = counties.groupby("city_en", sort=False)[["pop_2020_census", "urban_pop_2020"]].sum()
    for city, stated in zip(rows["city_en"], rows["urbanization_rate_pct"]):
        units_rate = 100 * sums.at[city, "urban_pop_2020"] / sums.at[city, "pop_2020_census"]
        if abs(units_rate - stated) > tolerance_pp:
            raise DataError(
                f"{COUNTIES_FILE}, city {city} ({_rows_of_city(counties, city)}): units give a 2020 urban rate of "
                f"{units_rate:.4f}%, the city's census rate in {CITIES_FILE} is {stated:g}%"
            )


# --------------------------------------------------------------------------------------
# provenance


def data_file_hashes(data_dir: str | Path | None = None) -> dict[str, str]:
    """SHA-256 (hex) of every file in the data folder and its subfolders, by path relative to it, for run
    manifests."""
    folder = _data_dir(data_dir)
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    }
