"""The client layer ``preflight`` and ``sa_tokens`` both stand on.

It turns a kubeconfig into a request the way kubectl would, and a failed request into one
error line. Nothing here judges a cluster; the two tools above do. Modules, bottom up:

    _errors      the error tree and exit codes; the only place foreign failures are named
    _deadline    one time budget per run
    _durations   "90s", "1h30m" in and out
    _pem         PEM/DER certificates and keys
    _kubeconfig  kubeconfig files, merged as kubectl merges them
    _proxy       proxy-url and HTTPS_PROXY/NO_PROXY, as client-go chooses them
    _names       namespace and object names, checked before any request
    _target      the resolved cluster, credentials and namespace of one run
    _http        KubeClient: authenticated requests, with one retry policy (_retry)
    _cluster     reads both tools need: version, identity, leader leases, token Secrets
    _boundary    the command-line error boundary

Import direction (tests/unit/test_layering.py): kube_client imports neither tool;
sa_tokens does not import preflight; preflight imports sa_tokens only at its command level.
The modules stay private: this is a layer of one distribution, not a library with promises.
"""
