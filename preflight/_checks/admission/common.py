"""What the admission judges share: one finding per check that lists every problem (the first few in the message, all in the evidence).
"""

from __future__ import annotations

from ..._facts.admission import AdmissionObjects
from typing import Any
from ..._engine.model import Finding
from collections.abc import Mapping
from ..._engine.model import Outcome
from collections.abc import Sequence


_SHOWN = 3  # problems spelled out in a message; evidence lists them all


def _summarize(fid: str, problems: Sequence[tuple[Outcome, str, str]], *, passed: str, evidence: Mapping[str, Any]) -> Finding:
    """One finding from per-object problems (outcome, message, fix): the worst outcome, the
    first few messages, every one in the evidence."""
    if not problems:
        return Finding(id=fid, outcome=Outcome.PASS, message=passed, evidence=evidence)
    order = [Outcome.FAIL, Outcome.ERROR, Outcome.WARN, Outcome.SKIP]
    ranked = sorted(problems, key=lambda p: order.index(p[0]))
    outcome = ranked[0][0]
    shown = [m for _, m, _ in ranked[:_SHOWN]]
    more = f" (and {len(ranked) - _SHOWN} more, see evidence)" if len(ranked) > _SHOWN else ""
    fixes = list(dict.fromkeys(f for _, _, f in ranked[:_SHOWN] if f))
    return Finding(id=fid, outcome=outcome, message="; ".join(shown) + more, remediation="; ".join(fixes),
                   evidence={**evidence, "problems": [{"outcome": o.value, "message": m, "fix": f} for o, m, f in ranked]})


def _not_simulated(fid: str, objects: AdmissionObjects) -> Finding:
    return Finding(id=fid, outcome=Outcome.WARN,
                   message=f"namespace {objects.namespace} does not exist yet (helm --create-namespace): nothing could be "
                           "simulated in it; its quota, LimitRange and PodSecurity labels will be the defaults",
                   remediation="create the namespace first to simulate the deploy in it", evidence={"namespace": objects.namespace})
