"""Benchmarks: the router against native Asterisk routing, and its decision core.

`make bench` (or `python -m tests.bench all`) runs them and writes BENCHMARKS.md.
None of this is part of `make test`, except a small smoke test of the harness.
"""
