"""Collectors: all the I/O of a run (reads and server-side dry-runs only)."""
