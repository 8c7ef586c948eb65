"""Differential tests: the same scenario programs on duroxide and on durascope.

``scenarios`` holds the programs (written once against duroxide-python's API),
``run_scenario`` runs one of them in a fresh process and dumps the store,
``harness`` runs that process, normalises dumps and diffs them, and
``test_differential`` asserts that both runtimes leave the same histories.
"""
