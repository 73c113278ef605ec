"""Sprintboard benchmarks: fan-out, connections, writes, relay lag and end-to-end latency vs baselines."""
