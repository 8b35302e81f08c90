"""Finding (and, once per machine, building) the real binaries with build.sh.

build.sh is the single source of truth for versions and the cache folder. A build takes
20-30 min on two cores, so this never starts a second one while another process is
building the same folder (build.sh stages into `<folder>.partial.<pid>`): it waits for that
one to finish instead.
"""
from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from .errors import HarnessError, tail
from .procs import proc_info

BUILD_SH = Path(__file__).resolve().parent / "build.sh"
REQUIRED = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
            "kubeadm", "kubectl", "helm", "helm4")
# The helm CLIs build.sh makes, by major version: `helm` is v3, `helm4` is v4.
HELM_BINARIES = {3: "helm", 4: "helm4"}


def bin_dir_path() -> Path:
    """The folder build.sh builds into (whether or not it is built yet)."""
    out = subprocess.run(["bash", str(BUILD_SH), "--print"], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        raise HarnessError(f"build.sh --print failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
    return Path(out.stdout.strip().splitlines()[-1])


def kubelet_dir(build: bool = False) -> Path:
    """The folder build.sh builds the kubelet into (`build.sh kubelet`); with `build`, build it
    first when missing (about 40 s with the Go cache the control plane left, 8 min cold)."""
    if not build:
        out = subprocess.run(["bash", str(BUILD_SH), "kubelet", "--print"], capture_output=True, text=True)
        if out.returncode != 0 or not out.stdout.strip():
            raise HarnessError(f"build.sh kubelet --print failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
        return Path(out.stdout.strip().splitlines()[-1])
    folder = kubelet_dir()
    if (folder / ".complete").exists():
        return folder
    with tempfile.NamedTemporaryFile("w+", prefix="kube-preflight-build-", suffix=".log", delete=False) as log:
        result = subprocess.run(["bash", str(BUILD_SH), "kubelet"], stdout=subprocess.PIPE, stderr=log, text=True)
    if result.returncode != 0 or not (folder / ".complete").exists():
        raise HarnessError(f"build.sh kubelet failed with exit code {result.returncode} (full log: {log.name})",
                           tail(Path(log.name), 40))
    return folder


def helm_binaries(bin_dir: Path) -> dict[int, Path]:
    """{3: <bin_dir>/helm, 4: <bin_dir>/helm4}: the versions are build.sh's pins."""
    return {major: bin_dir / name for major, name in HELM_BINARIES.items()}


def is_built(bin_dir: Path) -> bool:
    return (bin_dir / ".complete").exists() and all((bin_dir / b).exists() for b in REQUIRED)


def _build_in_progress(bin_dir: Path) -> int | None:
    """Pid of a build.sh currently staging into this folder, if any."""
    for partial in bin_dir.parent.glob(bin_dir.name + ".partial.*"):
        suffix = partial.name.rsplit(".", 1)[-1]
        if suffix.isdigit():
            info = proc_info(int(suffix))
            if info and not info.exited and any("build.sh" in a for a in info.argv):
                return info.pid
    return None


def build_binaries(wait_timeout: float = 3600) -> Path:
    """Build what is missing and return the bin folder. Idempotent; raises RuntimeError
    (HarnessError) with the tail of the build output if the build fails."""
    bin_dir = bin_dir_path()
    if is_built(bin_dir):
        return bin_dir
    builder = _build_in_progress(bin_dir)
    if builder is not None:
        deadline = time.monotonic() + wait_timeout
        while not is_built(bin_dir):
            if _build_in_progress(bin_dir) is None and not is_built(bin_dir):
                break  # it ended without installing: build ourselves and show why
            if time.monotonic() > deadline:
                raise HarnessError(f"timed out waiting for build.sh (pid {builder}) to finish {bin_dir}")
            time.sleep(10)  # a 20-30 min build: a coarse poll is enough
        if is_built(bin_dir):
            return bin_dir
    with tempfile.NamedTemporaryFile("w+", prefix="kube-preflight-build-", suffix=".log",
                                     delete=False) as log:
        result = subprocess.run(["bash", str(BUILD_SH)], stdout=subprocess.PIPE,
                                stderr=log, text=True)
    if result.returncode != 0:
        raise HarnessError(
            f"build.sh failed with exit code {result.returncode} (full log: {log.name})",
            tail(Path(log.name), 40))
    built = Path(result.stdout.strip().splitlines()[-1])
    if not is_built(built):
        raise HarnessError(f"build.sh reported {built} but it lacks .complete or a binary")
    return built
