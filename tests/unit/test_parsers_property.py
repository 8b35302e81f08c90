"""No byte string given to a parser raises anything but the project's own error type.

How many examples each property tries is the Hypothesis profile's (tests/conftest.py: 60 in the
unit tier, 300 in CI). Each example that needs a file rewrites the one file of its test (a new
folder per example made the tmp tree grow by hundreds of folders per run, to list and delete).
"""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_client._errors import PreflightError
from kube_client._kubeconfig import decode_jwt_claims, load_kubeconfig, parse_document
from kube_client._target import validate_inline
from preflight._facts.x509 import describe
from kube_client._pem import load_certificates, load_private_key
from tests.pkifactory import make_ca, make_leaf

LEAF = make_leaf(make_ca(), "kube-apiserver", sans=("127.0.0.1",), server=True)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kubeconfig file that examples write in turn (module scope: Hypothesis runs all the
    examples of a test in one call, so even a function-scoped one would be shared by them)."""
    return tmp_path_factory.mktemp("kc") / "config"


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def _only_our_error(fn, data: bytes) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(data, source="fuzz")
    except PreflightError:
        pass


@given(st.binary(max_size=2048) | mutated(LEAF.cert_der) | mutated(LEAF.cert_pem))
def test_certificate_parser_raises_only_config_errors(data: bytes) -> None:
    try:
        for cert in load_certificates(data, source="fuzz"):
            describe(cert)
    except PreflightError:
        pass


@given(st.binary(max_size=2048) | mutated(LEAF.key_pem))
def test_key_parser_raises_only_config_errors(data: bytes) -> None:
    _only_our_error(load_private_key, data)


@given(st.binary(max_size=4096))
def test_kubeconfig_document_parser_raises_only_config_errors(data: bytes) -> None:
    _only_our_error(parse_document, data)


yaml_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
yaml_values = st.recursive(yaml_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
kubeconfig_like = st.fixed_dictionaries(
    {},
    optional={
        "current-context": yaml_values,
        "contexts": st.lists(st.fixed_dictionaries({"name": yaml_values, "context": yaml_values}), max_size=2),
        "clusters": st.lists(st.fixed_dictionaries({"name": yaml_values, "cluster": yaml_values}), max_size=2),
        "users": st.lists(st.fixed_dictionaries({"name": yaml_values, "user": yaml_values}), max_size=2),
    },
)


@given(kubeconfig_like)
def test_resolving_any_kubeconfig_shape_raises_only_config_errors(config_path: Path, doc: dict[str, object]) -> None:
    import yaml

    config_path.write_text(yaml.safe_dump(doc))
    try:
        config = load_kubeconfig([config_path], explicit=True)
        for name in config.context_names or [None]:
            validate_inline(config.context(name))
    except PreflightError:
        pass


@given(st.text(max_size=300))
def test_jwt_decoding_never_raises(token: str) -> None:
    assert decode_jwt_claims(token) is None or isinstance(decode_jwt_claims(token), dict)


# -- resolve_target and KubeClient: the client boundary (issue 12) ------------------------------

servers = st.sampled_from([
    "https://127.0.0.1:6443", "https://[::1:6443", "https://[::1]:6443", "https://host:99999", "https://host:-1",
    "https://host:port", "http://127.0.0.1:8080", "https://h/k8s/clusters/c-x", "https://", "ftp://h", "",
]) | st.text(max_size=40)
proxies = st.none() | st.sampled_from(["http://proxy:3128", "http://[::1:3128", "socks5://p:1080", "http://u:p@proxy:99999", "::"]) | st.text(max_size=30)
scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)


@st.composite
def realistic_kubeconfig(draw: st.DrawFn) -> dict[str, object]:
    cluster: dict[str, object] = {"server": draw(servers | scalars)}
    if (proxy := draw(proxies)) is not None:
        cluster["proxy-url"] = proxy
    if draw(st.booleans()):
        cluster["insecure-skip-tls-verify"] = draw(scalars)
    if draw(st.booleans()):
        cluster["tls-server-name"] = draw(scalars)
    user: dict[str, object] = {}
    if draw(st.booleans()):
        user["token"] = draw(st.text(max_size=40) | scalars)
    if draw(st.booleans()):
        user.update({"username": draw(scalars), "password": draw(scalars)})
    if draw(st.booleans()):
        user["as"] = draw(scalars)
        user["as-groups"] = draw(st.lists(scalars, max_size=2) | scalars)
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": draw(scalars)}}],
        "clusters": [{"name": "k", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
    }


@given(realistic_kubeconfig())
def test_resolve_target_and_client_raise_only_our_errors(config_path: Path, doc: dict[str, object]) -> None:
    import yaml

    from kube_client._deadline import Deadline
    from kube_client._http import KubeClient
    from kube_client._target import resolve_target

    config_path.write_text(yaml.safe_dump(doc))
    try:
        KubeClient(resolve_target(kubeconfig=str(config_path), environ={}), Deadline(1)).close()
    except PreflightError:
        pass


hostile_tokens = st.text(min_size=8, max_size=60).map(lambda t: "tok" + t + "en") | st.sampled_from(
    ["s3cr3t-token\r\nX-Injected: 1", "s3cr3t-token\nmore", "s3cr3t\x00token", "s3cr3t\u2019token", "s3cr3t\x7ftoken"])


@given(hostile_tokens)
def test_a_hostile_token_is_refused_without_being_quoted(config_path: Path, token: str) -> None:
    import yaml

    from kube_client._deadline import Deadline
    from kube_client._http import KubeClient
    from kube_client._target import resolve_target

    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
           "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
           "users": [{"name": "u", "user": {"token": token}}]}
    config_path.write_text(yaml.safe_dump(doc))
    try:
        KubeClient(resolve_target(kubeconfig=str(config_path), environ={}), Deadline(1)).close()
    except PreflightError as exc:
        assert token.strip() not in str(exc) and token.strip() not in exc.fix
    else:  # accepted only when every character can go in a header as it is
        assert all(c == "\t" or 0x20 <= ord(c) <= 0xFF and ord(c) != 0x7F for c in token.strip())
