"""Facts as frozen data: what collectors gather and checks judge (no I/O here)."""
