"""The world households live in: Shanxi's geography (units, places, distances, metro area), the census
population synthesised household by household, and the validated data files (`data/`, with sources)."""
