"""Data for developing avgen, shared by the tests, the benchmarks and the demo's scripts (never shipped: see
docs/architecture.md, "Development data is neither test nor product")."""
