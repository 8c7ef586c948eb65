"""One widget per module; see each module."""
