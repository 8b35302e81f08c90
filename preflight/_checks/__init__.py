"""Judges: pure functions ``(policy, **facts) -> Finding``, one module per check-id prefix
(``api.py`` holds ``api.reachable``, ``kubeconfig.py`` holds ``kubeconfig.*``; ``release/`` holds
``explain``'s ``release.*`` and ``cluster.nodes``).

No I/O here: every judge takes the facts a collector gathered (``facts/``) and the run's
``Policy``, so unit tests hand them recorded facts. A fact that could not be collected arrives
as a ``FactError`` only for a parameter annotated ``... | FactError`` (the check's
``tolerates``); tests/unit/test_layering.py keeps the tables and the signatures in step.
"""
