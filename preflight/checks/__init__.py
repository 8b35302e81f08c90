"""Checks: pure judges, facts + policy -> findings; one file per check-id prefix."""
