"""Benchmarks: each prints one line per figure, with a baseline measured in the same run and the ratio."""
