"""A canary step for ``make demo`` (issue 23): promote the broken build #2 to prod again, this time
as a canary (``--strategy canary10-10s``) under steady traffic. Prod keeps answering 200 for most
requests; the canary is judged by the new version's own errors and aborted within seconds; the
timeline shows how many requests failed against what a canary judged by a one-minute alarm
(CodeDeploy's Canary10Percent5Minutes) would have let fail for the same traffic.

Runs after step 8 (prod on build #1 by an auto-rollback, build #2 quarantined: hence ``--force``).
"""

from __future__ import annotations

import json
import time

from demo.console import check, poll
from demo.story import APP, STEADY_RATE, Demo, epoch

RATE = 10.0  # requests a second during this step
STRATEGY = "canary10-10s"
WAIT = 60.0


def broken_build_as_canary(d: Demo) -> None:
    assert d.traffic is not None
    d.traffic.rate = RATE
    began = time.time()
    # `sprout promote` follows the deployment and exits 1 when it ends FAILED, as this one must
    d.sprout("promote", APP, "--to", "prod", "--build", "2", "--force", "--yes", "--strategy", STRATEGY, expect=1)

    def aborted() -> dict | None:
        listed = d.get("/stages/prod/deployments", limit=1)["deployments"]
        newest = listed[0] if listed else {}
        fresh = (epoch(newest.get("startedAt")) or 0) >= began - 1
        return newest if fresh and newest.get("status") != "IN_PROGRESS" else None

    done = poll("the canary of build #2 to be judged and aborted", aborted, timeout=WAIT, every=0.25)
    check(done["status"] == "FAILED" and str(done.get("error", "")).startswith("CanaryAborted"),
          f"the canary of build #2 should be aborted: {json.dumps(done, indent=2)}")
    d.sprout("deployments", "show", APP, "prod", done["id"])
    ended = epoch(done["finishedAt"]) or time.time()
    samples = d.traffic.since(began)
    failed = [s for s in samples if s.status >= 500 and s.sent <= ended]
    answered = [s for s in samples if s.sent <= ended]
    one_minute = RATE * 0.10 * 60
    d.tl.mark(epoch(done["startedAt"]) or began, ended, "canary #2", "rollback")
    d.tl.figure("canary of a broken build: failed requests before the abort",
                f"{len(failed)} of {len(answered)} (a one-minute-alarm canary: at least {one_minute:.0f})")
    d.tl.figure("canary of a broken build: promote → every weight back to 0", f"{ended - began:.1f} s")
    d.tl.record(f"canary {STRATEGY} of build #2 aborted on its own errors ({done['cause'].get('errors')} errors in "
                f"{done['cause'].get('requests')} requests of the new version); {len(failed)} of {len(answered)} "
                f"requests failed, against at least {one_minute:.0f} under a one-minute alarm")
    d.traffic.rate = STEADY_RATE
