"""Benchmarks: each prints a table (and writes JSON) comparing the product against a baseline in the same run."""
