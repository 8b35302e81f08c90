"""Judges of ``cluster.*``: whether the cluster has somewhere to run the deploy's pods."""
