"""`preflight check` as the Helm hook's image runs it, with and without bytecode, side by side.

The image's user (65532) cannot write __pycache__, and Debian's python3.11 packages ship no
.pyc (their postinst compiles them; scripts/image.py runs no maintainer script). Until
scripts/image.py compiled every module at build time (`_bytecode`), each hook run compiled the
~300 modules a check imports from source. This measures what that cost.

Sides, all against one throwaway control plane started here (tests/controlplane), each run as
`chroot --userspec=65532:65532 ROOT /usr/local/bin/preflight check --kubeconfig /tmp/kc -q`,
which is what the hook pod runs minus the container runtime:

  image (bytecode)       the root filesystem scripts/image.py builds now
  image (no bytecode)    the same root filesystem with every __pycache__ removed: the image
                         before `_bytecode`
  kubectl version        the cluster's own kubectl on the host, for scale

Sides rotate every iteration; warm-up iterations are discarded. Needs root (chroot) and what
scripts/image.py needs (apt-get download, PyPI).

    sudo python bench/image_check.py [--runs 10] [--warmup 1] [--json FILE]
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import _common as c

sys.path.insert(0, str(c.REPO))
from scripts import image  # noqa: E402

SIDES = ("image (bytecode)", "image (no bytecode)", "kubectl version")
USER = "65532:65532"


def _without_bytecode(root: Path, dest: Path) -> Path:
    shutil.copytree(root, dest, symlinks=True)
    for cache in sorted(dest.rglob("__pycache__")):
        shutil.rmtree(cache)
    return dest


def _with_kubeconfig(root: Path, kubeconfig: Path) -> None:
    dest = root / "tmp" / "kc"
    shutil.copyfile(kubeconfig, dest)
    os.chown(dest, 65532, 65532)
    dest.chmod(0o600)


def main() -> None:
    p = c.parser(__doc__.split("\n\n")[0], runs=10)
    args = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: chroot needs root")
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    print("bench/image_check.py: preflight check in the hook's image, with and without bytecode")
    start = c.machine_facts()
    c.print_facts(start)
    res: dict[str, Any] = {"machine_start": start, "rows": []}
    with c.throwaway_cluster("image", keep=args.keep) as cp:
        work = cp.workdir.parent
        print("building the image's root filesystem (scripts/image.py, about 15 s) ...", flush=True)
        roots = {"image (bytecode)": work / "rootfs"}
        image.build_rootfs(c.REPO, roots["image (bytecode)"], Path.home() / ".cache" / "kube-preflight" / "image" / "debs")
        roots["image (no bytecode)"] = _without_bytecode(roots["image (bytecode)"], work / "rootfs-no-bytecode")
        for root in roots.values():
            _with_kubeconfig(root, cp.admin_kubeconfig)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
        argv = {side: ([chroot, f"--userspec={USER}", str(root), "/usr/local/bin/preflight", "check", "--kubeconfig", "/tmp/kc", "-q"], env)
                for side, root in roots.items()}
        argv["kubectl version"] = ([str(cp.bin_dir / "kubectl"), f"--kubeconfig={cp.admin_kubeconfig}", "version"], c.kubectl_env())
        res["rows"] = c.rotate_sides(SIDES, argv, warmup=args.warmup, runs=args.runs)
    res["machine_end"] = c.machine_facts()

    c.section("results (seconds, wall time per process)")
    times = {side: [r["seconds"] for r in res["rows"] if r["side"] == side and not r["warmup"]] for side in SIDES}
    base = c.summary(times["image (bytecode)"])["median"]
    print(c.table(["side", "median", "min", "max", "n", "vs image (bytecode)"],
                  [[*c.timing_row(side, times[side]), f"{c.summary(times[side])['median'] / base:.2f}x"] for side in SIDES]))
    ratio = c.summary(times["image (no bytecode)"])["median"] / base
    res["ratio"] = ratio
    print(f"ratio (median, no bytecode / bytecode): {ratio:.2f}x: what each hook run paid before the image carried its bytecode")
    c.finish(start, res, args.json)


if __name__ == "__main__":
    c.run_main(main)
