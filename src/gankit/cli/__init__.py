"""L4 entry points."""
