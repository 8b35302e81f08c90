"""The proxy kubectl would use, and the CONNECT tunnel through it.

The NO_PROXY cases are Go's own (golang.org/x/net/http/httpproxy proxy_test.go and
net/http's UseProxyTests): the rules a user's kubectl already follows.
"""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kube_client._errors import ConfigError, UnreachableError
from kube_client._proxy import choose_proxy, open_tunnel
from kube_client._deadline import Deadline
from kube_client._target import resolve_target
from tests.connect_proxy import connect_proxy
from tests.hostile_server import tcp_server
from tests.pkifactory import kubeconfig_doc, write_kubeconfig

ENV = {"HTTPS_PROXY": "http://proxy.corp:3128"}

GO_NO_PROXY = "foobar.com, .barbaz.net, 10.0.0.0/8, 192.168.1.1, *.wild.org, example.com:8443, [2001:db8::1]:6443"


@pytest.mark.parametrize(
    ("host", "proxied"),
    [
        ("localhost:6443", False),  # never proxied, whatever NO_PROXY says
        ("127.0.0.1:6443", False),
        ("127.0.0.2:6443", False),
        ("[::1]:6443", False),
        ("[::2]:6443", True),  # not loopback
        ("barbaz.net:443", True),  # ".barbaz.net" matches subdomains only
        ("www.barbaz.net:443", False),
        ("foobar.com:443", False),  # "foobar.com" matches itself...
        ("www.foobar.com:443", False),  # ...and its subdomains
        ("foofoobar.com:443", True),  # but not a longer name ending the same way
        ("10.1.2.3:6443", False),  # CIDR
        ("11.1.2.3:6443", True),
        ("192.168.1.1:6443", False),  # IP, any port
        ("a.wild.org:443", False),
        ("wild.org:443", True),  # "*.wild.org" is ".wild.org"
        ("example.com:8443", False),  # host:port matches that port...
        ("example.com:6443", True),  # ...only
        ("[2001:db8::1]:6443", False),
        ("[2001:db8::1]:443", True),
    ],
)
def test_no_proxy_follows_go_rules(host: str, proxied: bool) -> None:
    proxy = choose_proxy(f"https://{host}", "", {**ENV, "NO_PROXY": GO_NO_PROXY})
    assert (proxy is not None) is proxied


def test_no_proxy_star_disables_the_proxy() -> None:
    assert choose_proxy("https://k8s.corp:6443", "", {**ENV, "no_proxy": "*"}) is None


def test_https_servers_use_https_proxy_not_http_proxy() -> None:
    env = {"https_proxy": "secure.corp:3128", "HTTP_PROXY": "http://plain.corp:8080"}
    https = choose_proxy("https://k8s.corp:6443", "", env)
    assert https is not None and (https.host, https.port, https.source) == ("secure.corp", 3128, "https_proxy")
    assert choose_proxy("https://k8s.corp:6443", "", {"HTTP_PROXY": "http://plain.corp:8080"}) is None


def test_a_plain_http_server_behind_a_proxy_is_refused_but_a_direct_one_is_fine() -> None:
    with pytest.raises(ConfigError, match="plain http .* tunnels only https"):
        choose_proxy("http://k8s.corp:8080", "", {"HTTP_PROXY": "http://plain.corp:8080"})
    assert choose_proxy("http://127.0.0.1:8001", "", {"HTTP_PROXY": "http://plain.corp:8080"}) is None  # kubectl proxy


def test_kubeconfig_proxy_url_wins_and_applies_even_to_loopback() -> None:
    proxy = choose_proxy("https://127.0.0.1:6443", "http://jump:8888", {**ENV, "NO_PROXY": "*"})
    assert proxy is not None and (proxy.host, proxy.port, proxy.source) == ("jump", 8888, "proxy-url")


def test_proxy_credentials_go_to_the_header_and_never_into_messages() -> None:
    proxy = choose_proxy("https://k8s.corp:6443", "", {"HTTPS_PROXY": "http://ci%40corp:s3cr%3At@proxy.corp:3128"})
    assert proxy is not None
    assert proxy.headers() == {"Proxy-Authorization": "Basic Y2lAY29ycDpzM2NyOnQ="}  # "ci@corp:s3cr:t"
    assert "s3cr" not in proxy.display and "s3cr" not in repr(proxy) and "s3cr" not in proxy.url


@pytest.mark.parametrize("url", ["socks5://127.0.0.1:1080", "https://proxy.corp:443"])
def test_unsupported_proxy_schemes_are_refused_not_bypassed(url: str) -> None:
    with pytest.raises(ConfigError, match="supports only http://"):
        choose_proxy("https://k8s.corp:6443", url, {})


def test_target_carries_the_chosen_proxy(tmp_path: Path) -> None:
    doc = kubeconfig_doc(server="https://k8s.corp:6443", token="t")
    doc["clusters"][0]["cluster"]["proxy-url"] = "http://jump:8888"  # type: ignore[index]
    path = write_kubeconfig(tmp_path / "config", doc)
    assert resolve_target(kubeconfig=str(path), environ={}).proxy == choose_proxy("https://k8s.corp:6443", "http://jump:8888", {})


# -- the tunnel, through a real (small) CONNECT proxy ---------------------------------------------

@pytest.fixture
def echo_server() -> Iterator[int]:
    """A TCP server that answers each line with the line upper-cased."""
    with tcp_server(lambda conn: conn.sendall(conn.recv(100).upper())) as port:
        yield port


def test_tunnel_carries_bytes_to_the_destination_and_presents_credentials(echo_server: int) -> None:
    with connect_proxy(user="ci", password="pw") as (url, log):
        proxy = choose_proxy("https://x", url.replace("http://", "http://ci:pw@"), {})
        assert proxy is not None
        with open_tunnel(proxy, "127.0.0.1", echo_server, timeout=5) as sock:
            sock.sendall(b"hello\n")
            assert sock.recv(100) == b"HELLO\n"
    assert log.connects == [f"127.0.0.1:{echo_server}"]


@pytest.mark.parametrize(
    ("kw", "expected", "fix"),
    [
        ({"user": "ci", "password": "pw"}, "407 Proxy Authentication Required", "wants credentials"),
        ({"deny": frozenset({"127.0.0.1:9"})}, "403 Forbidden", "does not allow this destination"),
        ({}, "502 Bad Gateway", "could not reach 127.0.0.1:9"),  # nothing listens on port 9
    ],
)
def test_proxy_refusals_name_the_proxy_the_answer_and_the_fix(kw: dict[str, object], expected: str, fix: str) -> None:
    with connect_proxy(**kw) as (url, _log):  # type: ignore[arg-type]
        proxy = choose_proxy("https://x", url, {})
        assert proxy is not None
        with pytest.raises(UnreachableError) as err:
            open_tunnel(proxy, "127.0.0.1", 9, timeout=5)
    assert err.value.step == "proxy"
    assert expected in err.value.message and url in err.value.message and fix in err.value.fix


def test_a_proxy_that_is_not_running_is_named_as_the_failed_step() -> None:
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    proxy = choose_proxy("https://x", f"http://127.0.0.1:{port}", {})
    assert proxy is not None
    with pytest.raises(UnreachableError, match=f"connection to the proxy http://127.0.0.1:{port} .* refused") as err:
        open_tunnel(proxy, "k8s.corp", 6443, timeout=Deadline(5).remaining())
    assert err.value.step == "proxy"


def test_check_through_a_dead_proxy_fails_api_reachable_naming_the_proxy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from preflight._cli.main import main

    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        port = placeholder.getsockname()[1]
    doc = kubeconfig_doc(server="https://k8s.corp:6443", token="t0ken")
    doc["clusters"][0]["cluster"]["proxy-url"] = f"http://ci:pw@127.0.0.1:{port}"  # type: ignore[index]
    path = write_kubeconfig(tmp_path / "config", doc)
    code = main(["check", "--kubeconfig", str(path), "--timeout", "2s", "-o", "json"])
    out = capsys.readouterr().out
    reachable = next(c for c in json.loads(out)["checks"] if c["id"] == "api.reachable")
    assert code == 1 and reachable["outcome"] == "fail" and reachable["evidence"]["step"] == "proxy"
    assert f"proxy http://127.0.0.1:{port} (from proxy-url)" in reachable["message"]
    assert "pw@" not in out and "t0ken" not in out
