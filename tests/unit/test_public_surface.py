"""The public Python surface is small and deliberate; everything else is private (_modules)."""

import importlib
import importlib.resources
import pkgutil

import preflight
import sa_tokens


def test_preflight_exports_exactly_the_model_errors_and_main() -> None:
    assert sorted(preflight.__all__) == sorted(
        ["ClusterError", "ConfigError", "Finding", "Outcome", "PreflightError", "Report", "__version__", "main"]
    )


def test_sa_tokens_exports_the_api_its_results_and_errors() -> None:
    assert sorted(sa_tokens.__all__) == sorted([
        "AccountStatus", "ConfigError", "EnsureError", "EnsureResult", "PreflightError", "RotateResult", "StatusReport",
        "TokenSecret", "__version__", "connect", "ensure", "kubeconfig_for", "rotate", "status",
    ])


def test_every_other_module_is_private() -> None:
    for package in (preflight, sa_tokens):
        public = [m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]
        assert public == [], f"{package.__name__} has public modules {public}"


def test_typed_markers_ship_and_names_resolve() -> None:
    for package in (preflight, sa_tokens):
        for name in package.__all__:
            assert hasattr(package, name), f"{package.__name__}.{name}"
        assert importlib.resources.files(package.__name__).joinpath("py.typed").is_file()
