"""Residual times match kubeadm's exactly: the cases are upstream's own tests of
k8s.io/apimachinery/pkg/util/duration.HumanDuration (v0.37.2, duration_test.go)."""

from datetime import timedelta

import pytest

from kube_client._durations import format_residual, parse_duration
from kube_client._errors import ConfigError

S, MS, M, H = timedelta(seconds=1), timedelta(milliseconds=1), timedelta(minutes=1), timedelta(hours=1)
D, Y = 24 * H, 365 * 24 * H

UPSTREAM_CASES = [
    (S, "1s"), (70 * S, "70s"), (190 * S, "3m10s"), (70 * M, "70m"), (47 * H, "47h"), (49 * H, "2d1h"),
    ((8 * 24 + 2) * H, "8d"), (367 * 24 * H, "367d"), ((365 * 2 * 24 + 25) * H, "2y1d"), ((365 * 8 * 24 + 2) * H, "8y"),
    # TestHumanDurationBoundaries
    (-2 * S, "<invalid>"), (timedelta(0), "0s"), (S - MS, "0s"), (2 * M - MS, "119s"), (2 * M, "2m"),
    (2 * M + S, "2m1s"), (10 * M - MS, "9m59s"), (10 * M, "10m"), (10 * M + S, "10m"), (3 * H - MS, "179m"),
    (3 * H, "3h"), (3 * H + M, "3h1m"), (8 * H - MS, "7h59m"), (8 * H, "8h"), (8 * H + 59 * M, "8h"),
    (2 * D - MS, "47h"), (2 * D, "2d"), (2 * D + H, "2d1h"), (8 * D - MS, "7d23h"), (8 * D, "8d"),
    (8 * D + 23 * H, "8d"), (2 * Y - MS, "729d"), (2 * Y, "2y"), (2 * Y + 23 * H, "2y"),
    (2 * Y + 24 * H - MS, "2y"), (2 * Y + 24 * H, "2y1d"), (3 * Y, "3y"), (5 * Y, "5y"),
]


@pytest.mark.parametrize(("remaining", "printed"), UPSTREAM_CASES)
def test_residual_is_printed_like_kubeadm(remaining: timedelta, printed: str) -> None:
    assert format_residual(remaining) == printed


def test_a_fresh_kubeadm_ca_reads_9y_and_a_leaf_364d() -> None:
    assert format_residual(10 * Y - timedelta(days=3)) == "9y"
    assert format_residual(Y - timedelta(minutes=5)) == "364d"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20s", 20), ("20", 20), ("7d", 7 * 86400), ("1h30m", 5400), ("500ms", 0.5), ("2w", 14 * 86400), ("1.5h", 5400)],
)
def test_durations_parse_as_users_type_them(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "abc", "7 days", "-3d", "1x", "d7"])
def test_unparseable_duration_is_a_config_error_naming_the_flag(text: str) -> None:
    with pytest.raises(ConfigError, match="--timeout"):
        parse_duration(text, name="--timeout")


@pytest.mark.parametrize("text", ["1e400", "99999999999999999999d", "300y", "9" * 400])
def test_an_overflowing_duration_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)
