"""Container images without a registry: a busybox rootfs packed as an OCI image-layout tarball,
which `ctr images import` loads into containerd (the OCI image-layout spec:
https://github.com/opencontainers/image-spec/blob/main/image-layout.md).

Two images come from the same rootfs (the static busybox of Debian's busybox-static, with a
symlink per applet, so `sh`, `httpd`, `sleep` ... exist):
    preflight.test/busybox:1   entrypoint /bin/sh        (pods give their own command)
    preflight.test/pause:1     sleeps forever            (containerd's sandbox_image)
Pods use them with `imagePullPolicy: Never`: nothing is ever pulled, no name is ever resolved.
The layer is deterministic (sorted, uid 0, mtime 0), so the digests are the same on every run.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from scripts import image as builder

BUSYBOX = "preflight.test/busybox:1"
PAUSE = "preflight.test/pause:1"
_ENTRYPOINTS = {BUSYBOX: ["/bin/sh"], PAUSE: ["/bin/sleep", "2147483647"]}
_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def busybox_rootfs(busybox: Path, root: Path) -> Path:
    """A minimal rootfs: bin/busybox, a symlink per applet, /etc/passwd and /etc/group."""
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "www"):
        (root / d).mkdir(parents=True)
    shutil.copy2(busybox, root / "bin" / "busybox")
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    (root / "www" / "index.html").write_text("ok\n")
    return root


def oci_tarball(rootfs: Path, out: Path, ref: str, entrypoint: list[str]) -> Path:
    """A single-layer OCI image-layout tarball named `ref`, written by scripts/image.py's
    reproducible writer (the same one kube-preflight's own image uses)."""
    builder.oci_layout(rootfs, out, ref, {"Entrypoint": entrypoint, "Env": [_PATH_ENV]})
    return out


def build_all(busybox: Path, folder: Path) -> dict[str, Path]:
    """Both images as tarballs in `folder`: {ref: tarball}."""
    rootfs = busybox_rootfs(busybox, folder / "rootfs")
    out = {ref: oci_tarball(rootfs, folder / (ref.split("/")[-1].replace(":", "-") + ".tar"), ref, ep)
           for ref, ep in _ENTRYPOINTS.items()}
    shutil.rmtree(rootfs)
    return out
