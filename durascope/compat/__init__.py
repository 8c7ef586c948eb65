"""Compatibility facades: :mod:`durascope.compat.duroxide` mirrors duroxide-python's API."""

__all__: list[str] = []
