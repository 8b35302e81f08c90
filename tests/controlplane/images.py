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

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

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


def _layer(rootfs: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in [None, *dirnames, *sorted(filenames)]:
                path = Path(dirpath) if name is None else Path(dirpath) / name
                arcname = str(path.relative_to(rootfs))
                if arcname == ".":
                    continue
                info = tar.gettarinfo(str(path), arcname)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                if info.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def oci_tarball(rootfs: Path, out: Path, ref: str, entrypoint: list[str]) -> Path:
    """A single-layer OCI image-layout tarball named `ref` (index annotations containerd reads)."""
    raw = _layer(rootfs)
    compressed = gzip.compress(raw, mtime=0)
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return "sha256:" + digest

    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": entrypoint, "Env": [_PATH_ENV]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "history": [{"created_by": "tests/controlplane/images.py"}]}, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(compressed),
                    "size": len(compressed)}]}, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": blob(manifest),
                       "size": len(manifest),
                       "annotations": {"org.opencontainers.image.ref.name": ref, "io.containerd.image.name": ref}}]}).encode()
    with tarfile.open(out, "w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", index)
        for digest, data in blobs.items():
            add(f"blobs/sha256/{digest}", data)
    return out


def build_all(busybox: Path, folder: Path) -> dict[str, Path]:
    """Both images as tarballs in `folder`: {ref: tarball}."""
    rootfs = busybox_rootfs(busybox, folder / "rootfs")
    out = {ref: oci_tarball(rootfs, folder / (ref.split("/")[-1].replace(":", "-") + ".tar"), ref, ep)
           for ref, ep in _ENTRYPOINTS.items()}
    shutil.rmtree(rootfs)
    return out
