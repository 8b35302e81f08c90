"""workdir/state.json: what another process needs to act on a running cluster.

Holds the bin folder, the version, the ports, and for every process the harness started (the
four components and helpers such as the blackhole) its argv, pid, /proc start time and wall
clock start. It is rewritten atomically after every change. Two processes changing the same
cluster at the same moment is not supported: the last writer wins.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT = 1


@dataclass
class Proc:
    argv: list[str]
    pid: int | None = None
    starttime: int | None = None  # /proc/<pid>/stat field 22; with pid, an identity
    started_at: float | None = None  # time.time() just before it was started


@dataclass
class State:
    bin_dir: str
    version: str
    ports: dict[str, int]
    processes: dict[str, Proc] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)  # e.g. blackhole address
    format: int = FORMAT

    @staticmethod
    def path(workdir: Path) -> Path:
        return workdir / "state.json"

    @classmethod
    def load(cls, workdir: Path) -> State | None:
        try:
            raw = json.loads(cls.path(workdir).read_text())
        except FileNotFoundError:
            return None
        procs = {name: Proc(**p) for name, p in raw.pop("processes", {}).items()}
        return cls(processes=procs, **raw)

    def save(self, workdir: Path) -> None:
        target = self.path(workdir)
        tmp = target.with_name(f".state.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, target)
