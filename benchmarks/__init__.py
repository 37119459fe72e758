"""Benchmarks: microgradnp against hand-written NumPy and peer frameworks, side by side.

Run ``python -m benchmarks --help``; the workloads and fairness rules are described in
``benchmarks/README.md``.
"""
