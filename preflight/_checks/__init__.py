"""Pure checks for ``preflight check``: facts + policy -> Finding.

No I/O here: every function takes the facts a collector gathered (``_facts``) and the run's
``Policy``, so unit tests hand them recorded facts. A fact that could not be collected
arrives as a ``FactError`` only for checks registered with ``handles_errors``.
"""
