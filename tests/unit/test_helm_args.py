"""Reading `helm upgrade|install` command lines as pflag does: the release, the kube flags, and
the --preflight-* options that go to the gate instead of helm."""

from __future__ import annotations

import pytest

from kube_client._errors import ConfigError
from preflight._cli.helm.args import GATE_PREFIX, split_deploy_args, split_gate_options
from preflight._cli.helm.plugin import gate_flags
from preflight._cli.main import check

FLAGS = {"timeout": "value", "strict": "flag", "node": "optional", "service-account": "value"}


@pytest.mark.parametrize(("args", "release"), [
    (["web", "./chart"], "web"),
    (["--install", "web", "./chart"], "web"),
    (["-i", "web", "./chart", "--wait"], "web"),
    (["-f", "values.yaml", "web", "./chart"], "web"),
    (["-fvalues.yaml", "web", "./chart"], "web"),
    (["--values=values.yaml", "--set", "a=b", "web", "./chart"], "web"),
    (["--dry-run", "web", "./chart"], "web"),  # NoOptDefVal: takes a value only as --dry-run=server
    (["--wait", "web", "./chart"], "web"),  # v4 --wait[=watcher]
    (["--server-side", "true", "web", "./chart"], "web"),  # v4 upgrade: a string flag
    (["-n", "shop", "--timeout", "10m", "web", "./chart"], "web"),
    (["--", "web", "./chart"], "web"),
])
def test_the_release_is_the_first_positional_of_upgrade(args: list[str], release: str) -> None:
    parsed = split_deploy_args("upgrade", args, FLAGS)
    assert parsed.release == release and parsed.why_no_release == ""
    assert list(parsed.helm_args) == args  # forwarded unchanged


@pytest.mark.parametrize("args", [
    ["-f", "a.yaml", "web", "./chart", "--set", "x=1", "--values=b.yaml", "-fc.yaml", "--set-string=y=2", "--set-file", "z=f.txt"],
    ["web", "-f", "a.yaml", "--set=x=1", "./chart", "--values", "b.yaml", "-f=c.yaml", "--set-string", "y=2", "--set-file=z=f.txt"],
])
def test_the_chart_and_its_values_are_read_in_the_order_given(args: list[str]) -> None:
    parsed = split_deploy_args("upgrade", args, FLAGS)
    assert parsed.chart == "./chart"
    assert parsed.values == (("values", "a.yaml"), ("set", "x=1"), ("values", "b.yaml"), ("values", "c.yaml"),
                             ("set-string", "y=2"), ("set-file", "z=f.txt"))


def test_the_chart_of_install_follows_its_name_or_comes_first_with_generate_name() -> None:
    assert split_deploy_args("install", ["web", "oci://r/c", "--version", "1.2"], FLAGS).chart == "oci://r/c"
    assert split_deploy_args("install", ["./chart", "--generate-name"], FLAGS).chart == "./chart"
    assert split_deploy_args("upgrade", ["web"], FLAGS).chart is None
    assert split_deploy_args("upgrade", ["--brand-new-flag", "x", "web", "./chart"], FLAGS).chart is None  # positions unknown


def test_install_server_side_is_a_bool_so_the_release_follows_it() -> None:
    assert split_deploy_args("install", ["--server-side", "web", "./chart"], FLAGS).release == "web"


def test_install_with_generate_name_has_no_release_to_check() -> None:
    for args in (["./chart", "--generate-name"], ["-g", "./chart"], ["./chart"]):
        parsed = split_deploy_args("install", args, FLAGS)
        assert parsed.release is None and parsed.why_no_release == ""


def test_an_unknown_flag_makes_the_release_a_guess_and_it_is_not_taken() -> None:
    parsed = split_deploy_args("upgrade", ["--brand-new-flag", "x", "web", "./chart"], FLAGS)
    assert parsed.release is None and "--brand-new-flag is unknown" in parsed.why_no_release


def test_an_invalid_release_name_is_not_checked() -> None:
    parsed = split_deploy_args("upgrade", ["Web_App", "./chart"], FLAGS)
    assert parsed.release is None and "not a valid release name" in parsed.why_no_release


def test_kube_flags_of_a_direct_run_are_read_last_value_winning() -> None:
    parsed = split_deploy_args("upgrade", [
        "-n", "a", "--namespace=shop", "--kube-context", "prod", "--kube-token", "s3cret",
        "--kube-as-group", "g1", "--kube-as-group=g2", "--kube-insecure-skip-tls-verify", "web", "./chart"], FLAGS)
    assert parsed.kube == {"namespace": "shop", "kube-context": "prod", "kube-token": "s3cret",
                           "kube-as-group": "g1,g2", "kube-insecure-skip-tls-verify": "true"}
    assert "s3cret" not in repr(parsed)  # the token stays out of reprs (and so of tracebacks)


def test_create_namespace_and_timeout_are_noticed() -> None:
    parsed = split_deploy_args("upgrade", ["--install", "--create-namespace", "--timeout=2m", "web", "./c"], FLAGS)
    assert parsed.create_namespace and parsed.timeout == "2m"
    assert not split_deploy_args("upgrade", ["--create-namespace=false", "web", "./c"], FLAGS).create_namespace


def test_gate_options_are_taken_out_of_helms_arguments() -> None:
    rest, gate = split_gate_options(
        ["web", "--preflight-timeout", "30s", "./chart", "--preflight-strict", "--preflight-node=/etc/k", "--wait",
         "--preflight-service-account=ci/jenkins"], FLAGS)
    assert rest == ["web", "./chart", "--wait"]
    assert gate == ["--timeout", "30s", "--strict", "--node", "/etc/k", "--service-account", "ci/jenkins"]


def test_gate_options_after_double_dash_belong_to_helm() -> None:
    rest, gate = split_gate_options(["web", "--", "--preflight-strict"], FLAGS)
    assert rest == ["web", "--", "--preflight-strict"] and gate == []


@pytest.mark.parametrize(("args", "words"), [
    (["--preflight-bogus"], "--preflight-bogus is not a preflight check option"),
    (["--preflight-timeout"], "needs a value"),
    (["--preflight-strict=yes"], "takes no value"),
])
def test_bad_gate_options_are_one_line_errors(args: list[str], words: str) -> None:
    with pytest.raises(ConfigError, match=words) as err:
        split_gate_options(args, FLAGS)
    assert "\n" not in str(err.value)


def test_the_gate_flags_come_from_preflight_check_itself() -> None:
    flags = gate_flags(check)
    assert flags["timeout"] == "value" and flags["strict"] == "flag" and flags["node"] == "optional"
    assert flags["namespace"] == "value" and GATE_PREFIX == "--preflight-"
