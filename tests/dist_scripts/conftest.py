# These are programs that mpiexec runs (see tests/test_distributed.py), not test modules:
# importing one would run it, so pytest (with --doctest-modules) must not collect them.
collect_ignore_glob = ["*.py"]
