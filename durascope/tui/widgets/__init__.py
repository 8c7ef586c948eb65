"""One widget per module; see each module."""

__all__: list[str] = []
