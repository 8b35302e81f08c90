"""``preflight explain``'s judges: one ``release.<kind>.<name>`` finding per release object
(``objects.py``), from the pods' own story (``pods.py``), plus ``cluster.nodes`` and ``release.status``."""
