"""One screen per module; see each module."""
