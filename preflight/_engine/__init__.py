"""The engine: the model (``Finding``, ``Outcome``, ``Report``), the runner that collects facts
concurrently under one deadline and hands them to the judges, and the renderers.

It knows no check, fact or Kubernetes object by name: tables and judges come from the stages
above it. Import direction (enforced by tests/unit/test_layering.py):
engine <- facts <- checks <- collect <- cli.
"""
