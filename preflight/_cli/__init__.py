"""The command line: the one composition root. It parses flags, builds the check tables and
collectors, runs them and renders the report. ``helm/`` is the Helm front door (plugin,
post-renderer), which runs the same CLI in-process.
"""
