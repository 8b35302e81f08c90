# The `cluster` marker is registered here only because the repository has no top-level pytest
# configuration yet; move it there (pyproject.toml [tool.pytest.ini_options] markers) when one
# exists, and delete this file.
def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "cluster: runs a real control plane from tests/controlplane (binaries built by "
        "build.sh, 20-30 min the first time); deselect with -m 'not cluster'",
    )
