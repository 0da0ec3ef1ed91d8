"""Data for developing avgen, shared by the tests, the benchmarks and the demo's scripts (never shipped)."""
