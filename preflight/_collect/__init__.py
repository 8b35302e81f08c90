"""Collectors: all of preflight's I/O (the API server, the node's /proc and files, helm).
Each gathers one kind of fact, once per run, and returns data from ``facts``.
"""
