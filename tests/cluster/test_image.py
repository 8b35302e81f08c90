"""kube-preflight's image (scripts/image.py), built from this tree without a registry: reproducible
(a second build from scratch gives the same digest as the cached one), non-root, no shell, and
its entrypoint runs preflight. Needs Debian's apt (the rootfs is made of Debian packages) and
PyPI; no cluster. The node tier runs the same image as the Helm hook (test_hook.py).
"""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from scripts import image as builder
from tests.controlplane import preflight_image

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None, reason="needs Debian's apt")]
REPO = Path(__file__).resolve().parents[2]
CHROOT = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin") or "chroot"


def _read(tarball: Path) -> tuple[dict, dict, tarfile.TarFile]:
    with tarfile.open(tarball) as outer:
        files = {m.name: outer.extractfile(m).read() for m in outer.getmembers() if m.isfile()}  # type: ignore[union-attr]
    index = json.loads(files["index.json"])
    manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    layer = files["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    return index, config, tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer)))


def test_the_image_is_reproducible_non_root_without_a_shell(tmp_path: Path) -> None:
    t0 = time.monotonic()
    cached, digest = preflight_image.ensure_image()
    t_cached = time.monotonic() - t0
    t0 = time.monotonic()
    again = builder.build(REPO, tmp_path / "again.tar", preflight_image.REF, preflight_image.cache_root() / "debs")
    print(f"\nimage {digest}, {cached.stat().st_size / 1e6:.0f} MB; ensure_image {t_cached:.1f}s, "
          f"a build from scratch {time.monotonic() - t0:.1f}s")
    assert again == digest
    assert (tmp_path / "again.tar").read_bytes() == cached.read_bytes()

    index, config, layer = _read(cached)
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == "preflight.test/kube-preflight:dev"
    assert config["config"]["Entrypoint"] == ["/usr/local/bin/preflight"]
    assert config["config"]["User"] == "65532:65532"
    members = layer.getmembers()
    names = {m.name for m in members}
    assert not names & {"bin/sh", "usr/bin/sh", "bin/bash", "usr/bin/bash", "bin/dash", "usr/bin/dash", "bin/busybox"}
    assert not any(n.startswith(("usr/bin/dpkg", "usr/bin/apt", "usr/bin/perl")) for n in names)
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert {m.mtime for m in members} == {0}
    assert not any(n.endswith("direct_url.json") for n in names)


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_the_image_runs_preflight_as_non_root(tmp_path: Path) -> None:
    cached, _ = preflight_image.ensure_image()
    _, _, layer = _read(cached)
    root = tmp_path / "root"
    layer.extractall(root, filter="tar")
    ran = subprocess.run([CHROOT, "--userspec=65532:65532", str(root), "/usr/local/bin/preflight", "--version"],
                         capture_output=True, text=True, env={"PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "preflight 0.1.0"
    # Every module the entrypoints load comes with its bytecode: the image's user cannot write
    # __pycache__, so a module without it would be compiled from source on every run.
    no_bytecode = ("import importlib.util, os, sys\n"
                   "import ssl, cryptography.x509, yaml, requests, jenkins, sa_tokens._cli, preflight._cli.check, preflight._cli.main\n"
                   "origins = [m.__spec__.origin for m in list(sys.modules.values()) if getattr(m, '__spec__', None)]\n"
                   "print(sum(1 for o in origins if o and o.endswith('.py')))\n"
                   "print(*[o for o in origins if o and o.endswith('.py') and not os.path.exists(importlib.util.cache_from_source(o))])")
    imports = subprocess.run([CHROOT, "--userspec=65532:65532", str(root), "/usr/bin/python3.11", "-I", "-c", no_bytecode],
                             capture_output=True, text=True)
    assert imports.returncode == 0, imports.stderr
    loaded, without = imports.stdout.split("\n")[:2]
    assert int(loaded) > 250 and without == ""
    # checked-hash bytecode: an image built on this one with a module changed runs the change
    init = root / "usr" / "local" / "lib" / "python3.11" / "dist-packages" / "preflight" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "0.1.0"', '__version__ = "0.1.0+patched"'))
    ran = subprocess.run([CHROOT, "--userspec=65532:65532", str(root), "/usr/local/bin/preflight", "--version"],
                         capture_output=True, text=True, env={"PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert ran.stdout.strip() == "preflight 0.1.0+patched", ran.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_the_image_runs_the_hooks_check_in_cluster_as_the_hooks_service_account(cluster: Any, tmp_path: Path) -> None:
    """The image as the hook pod runs it, without a node: chroot into its root filesystem as
    65532, the ServiceAccount's token and CA where a pod has them, KUBERNETES_SERVICE_HOST/PORT
    pointing at the real API server; the identity has only the hook chart's RBAC."""
    from tests.cluster.test_admission import namespace
    from tests.cluster.test_hook_chart import RBAC_KINDS, WEB, render

    cached, _ = preflight_image.ensure_image()
    _, _, layer = _read(cached)
    root = tmp_path / "root"
    layer.extractall(root, filter="tar")
    with namespace(cluster, "hook-img") as ns:
        cluster.helm("install", "web", str(WEB), "-n", ns)
        rbac = [d for d in render(cluster, 3, ns) if d["kind"] in RBAC_KINDS]
        items = json.dumps({"apiVersion": "v1", "kind": "List", "items": rbac})
        cluster.kubectl("apply", "-f", "-", input=items)
        try:
            sa_dir = root / "var" / "run" / "secrets" / "kubernetes.io" / "serviceaccount"
            sa_dir.mkdir(parents=True)
            (sa_dir / "token").write_text(cluster.kubectl("create", "token", "web-preflight", "-n", ns, "--duration=1h").stdout.strip())
            shutil.copyfile(cluster.pki_dir / "ca.crt", sa_dir / "ca.crt")
            (sa_dir / "namespace").write_text(ns)
            for f in sa_dir.iterdir():
                os.chown(f, 65532, 65532)
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "KUBERNETES_SERVICE_HOST": "127.0.0.1",
                   "KUBERNETES_SERVICE_PORT": str(cluster.apiserver_port)}
            ran = subprocess.run([CHROOT, "--userspec=65532:65532", str(root), "/usr/local/bin/preflight", "check", "--hook",
                                  f"--namespace={ns}", "--timeout=30s", "--release=web", "--from-release=1", "--helm-major=3"],
                                 capture_output=True, text=True, env=env, timeout=120)
        finally:
            cluster.kubectl("delete", "-f", "-", "--wait=false", input=items, check=False)
    print(ran.stdout[-1500:])
    assert "Traceback" not in ran.stderr, ran.stderr
    assert "context 'in-cluster'" in ran.stderr and "release web revision 1 (deployed)" in ran.stderr
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "admission.dry-run" in ran.stdout and "auth.permissions" not in ran.stdout
