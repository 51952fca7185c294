"""cachetrace benchmarks; each module records its results in a RESULTS-*.md beside it."""
