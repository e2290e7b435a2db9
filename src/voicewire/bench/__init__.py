"""Benchmarks: scripts that print a table and write JSON. Never timed assertions in tests."""
