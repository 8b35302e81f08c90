"""Facts: frozen data and pure parsing, no I/O. Collectors build these; judges read them; unit
tests build them by hand from recorded payloads. Tables of the domain live here too: the
kubeadm PKI (``pki.py``), the default deploy permissions (``permissions.py``).
"""
