"""kube-preflight's own image for the node (`up --node` imports it as REF), built by
scripts/image.py from the working tree and cached by content in
~/.cache/kube-preflight/image/<key>/ (or $KUBE_PREFLIGHT_CACHE/image/<key>/): the key hashes the
tree files that make the wheel, the pinned Python lock, the builder and the Debian package
versions, so an unchanged tree is never rebuilt (one build per change, not per session); a
new build removes the older trees' images.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

from scripts import image as builder

from .errors import HarnessError

log = logging.getLogger("tests.controlplane")

REF = builder.REF
REPO = Path(__file__).resolve().parents[2]


def cache_root() -> Path:
    base = os.environ.get("KUBE_PREFLIGHT_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "kube-preflight") / "image"


def _apt_lists() -> None:
    """apt-cache needs the package lists: fetch them once on a fresh machine (root)."""
    if subprocess.run(["apt-cache", "show", "--no-all-versions", builder.DEBIAN_ROOTS[0]], capture_output=True).returncode == 0:
        return
    if os.geteuid() != 0:
        raise HarnessError("building the kube-preflight image needs apt's package lists: run `apt-get update` as root")
    result = subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600)
    if result.returncode != 0:
        raise HarnessError(f"apt-get update failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")


def ensure_image() -> tuple[Path, str]:
    """(the OCI tarball of REF, its manifest digest), built unless the cache holds it."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise HarnessError("building the kube-preflight image needs apt-get and dpkg-deb (Debian)")
    _apt_lists()
    try:
        key = builder.cache_key(REPO, builder.debian_packages())
    except builder.ImageError as exc:
        raise HarnessError(f"kube-preflight image: {exc}") from None
    folder = cache_root() / key
    tarball, digest_file = folder / "kube-preflight.tar", folder / "digest"
    if tarball.exists() and digest_file.exists():
        return tarball, digest_file.read_text().strip()
    folder.mkdir(parents=True, exist_ok=True)
    log.info("building %s from this tree (scripts/image.py: Debian packages, wheels, bytecode; about 20 s) ...", REF)
    t0 = time.monotonic()
    try:
        digest = builder.build(REPO, tarball, REF, cache_root() / "debs")
    except builder.ImageError as exc:
        raise HarnessError(f"building the kube-preflight image failed: {exc}") from None
    digest_file.write_text(digest + "\n")
    for stale in cache_root().iterdir():  # one image per machine: an older tree's is not used again
        if stale.is_dir() and stale.name not in (key, "debs"):
            shutil.rmtree(stale, ignore_errors=True)
    log.info("built %s (%s, %.0f MB) in %.1fs", REF, digest, tarball.stat().st_size / 1e6, time.monotonic() - t0)
    return tarball, digest
