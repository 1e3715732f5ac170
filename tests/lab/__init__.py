"""The lab: a real Asterisk in a container and real SIP phones (sipp).

Tests, the demo and the benchmarks all start it through this package.
"""
