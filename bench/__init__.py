"""Veille's benchmarks: `python -m bench` runs them and prints a table (see README)."""
