"""Step 8: Sprout rolls prod back by itself under steady traffic, and how long the outage lasted.

The step is mandatory (``AUTO_ROLLBACK_REQUIRED``): without ``PUT /apps/{app}/stages/{stage}/auto-rollback``
the demo fails. Set it to False to skip the step, saying so, on a Sprout without auto-rollback.
"""

from __future__ import annotations

import json
import time

from demo.console import DemoFailed, check, poll
from demo.story import APP, STEADY_RATE, Demo, epoch
from sprout.cli.client import ApiError

AUTO_ROLLBACK_REQUIRED = True
FAST_ALARM = f"sprout-ar-{APP}-prod-fast"
COOLDOWN_SECONDS = 0  # no cool-down left over from step 7's hand rollback (see rolls_back_by_itself)
RATE = 10.0  # requests a second during this step
WAIT = 90.0  # seconds for Sprout to roll back by itself (targets: median 12 s, every run 20 s)


def auto_rollback_available(d: Demo) -> bool:
    """Whether Sprout's API has the auto-rollback route: ``GET`` on prod's answers 200 when it
    does; API Gateway answers a path it has no resource for with 403 ``Missing Authentication
    Token`` (a 404 is taken as absent too). Anything else fails the demo."""
    try:
        d.get("/stages/prod/auto-rollback")
        return True
    except ApiError as e:
        if e.status == 404 or (e.status == 403 and "Missing Authentication Token" in e.message):
            return False
        raise DemoFailed(f"GET /apps/{APP}/stages/prod/auto-rollback answered {e.status} {e.body!r}") from None


def auto_rollback_off(d: Demo) -> None:
    """Step 3's second half: auto-rollback off on prod for the hand-rollback part of the story
    (Sprout turns it on by default for a stage named prod)."""
    if auto_rollback_available(d):
        d.sprout("auto-rollback", "disable", APP, "prod")
        check(d.get("/stages/prod/auto-rollback").get("enabled") is False, "auto-rollback should be off on prod")
        d.tl.record("auto-rollback off on prod for the hand-rollback part")


def rolls_back_by_itself(d: Demo) -> None:
    assert d.traffic is not None
    if not auto_rollback_available(d):
        check(not AUTO_ROLLBACK_REQUIRED, f"GET /apps/{APP}/stages/prod/auto-rollback: no such route")
        print("   step 8 skipped: auto-rollback is not built yet", flush=True)
        d.tl.record("skipped: auto-rollback is not built yet", ok=False)
        d.tl.figure("step 8", "skipped: auto-rollback is not built yet")
        return
    # Turned on with a signed PUT rather than `sprout auto-rollback enable`, which has no option for
    # the cool-down: the hand rollback of step 7, a minute ago, would otherwise hold prod in the
    # default 5-minute cool-down, and the alarm would be recorded and not acted on.
    body = {"enabled": True, "cooldownSeconds": COOLDOWN_SECONDS}
    d.api.request("PUT", f"/apps/{APP}/stages/prod/auto-rollback", body)
    d.tl.record(f"PUT /apps/{APP}/stages/prod/auto-rollback {json.dumps(body)}")
    d.sprout("auto-rollback", "show", APP, "prod")
    watch = d.get("/stages/prod/auto-rollback")
    names = [a["name"] for a in watch.get("alarms", [])]
    check(watch.get("enabled") is True and FAST_ALARM in names,
          f"auto-rollback should be on with alarm {FAST_ALARM}: {json.dumps(watch)}")
    d.tl.record(f"auto-rollback on: alarms {', '.join(names)}")

    d.traffic.rate = RATE
    began = time.time()
    d.sprout("promote", APP, "--to", "prod", "--build", "2", "--force", "--yes")
    promoted = d.deployed("prod", 2, "promote", began)
    d.tl.record(f"build #2 promoted again with --force ({promoted['id']}); traffic at {RATE:g} requests a second")

    def rolled_back() -> dict | None:
        current = d.stage("prod").get("currentDeployment") or {}
        done = current.get("kind") == "auto-rollback" and current.get("status") != "IN_PROGRESS"
        return current if done else None

    try:
        current = poll("Sprout rolling prod back by itself", rolled_back, timeout=WAIT, every=0.25)
    except DemoFailed:
        # what the alarms and the stage say, for whoever reads why it did not happen
        d.sprout("auto-rollback", "show", APP, "prod")
        d.sprout("deployments", "list", APP, "prod")
        raise
    check(current["status"] == "SUCCEEDED" and current["build"] == 1,
          f"the auto-rollback should put build 1 back: {json.dumps(current, indent=2)}")
    d.tl.mark(epoch(current["startedAt"]) or time.time(), epoch(current["finishedAt"]) or time.time(),
              "auto-rollback #1", "auto-rollback")
    first_bad = d.traffic.first(began, ok=False)
    check(first_bad is not None, "the traffic saw no 5xx after build 2 was promoted again")
    first_ok = d.traffic.wait_for(first_bad.sent, ok=True, timeout=15)
    check(first_ok is not None, "no 200 on prod within 15 s of the auto-rollback")
    quarantined = d.build(2).get("quarantined")
    check(quarantined, "build 2 should be quarantined after the auto-rollback")

    fired = (current.get("trigger") or {}).get("alarm") or FAST_ALARM  # the alarm Sprout acted on

    def alarmed_since(name: str, since: float) -> list[float]:
        history = json.loads(d.aws("cloudwatch", "describe-alarm-history", "--alarm-name", name,
                                   "--history-item-type", "StateUpdate", "--output", "json"))
        return sorted(epoch(i["Timestamp"]) or 0 for i in history.get("AlarmHistoryItems", [])
                      if json.loads(i.get("HistoryData") or "{}").get("newState", {}).get("stateValue") == "ALARM"
                      and (epoch(i["Timestamp"]) or 0) >= since)

    # a one-minute alarm created in this step may already be in ALARM on the minute that held step 6's
    # 502s: detection is then timed by the fast alarm, which sees only the last 10 seconds
    alarmed = alarmed_since(fired, first_bad.sent) or alarmed_since(FAST_ALARM, first_bad.sent)
    check(alarmed, f"neither {fired} nor {FAST_ALARM} changed to ALARM after the first 502")
    alarm_at, started, finished = alarmed[0], epoch(current["startedAt"]), epoch(current["finishedAt"])
    assert started is not None and finished is not None
    parts = {
        "detection (first 502 → alarm)": alarm_at - first_bad.done,
        "event delivery (alarm → rollback started)": started - alarm_at,
        "rollback (started → first 200)": first_ok.done - started,
    }
    restore = first_ok.done - first_bad.done
    for name, seconds in parts.items():
        d.tl.figure(f"auto-rollback {name}", f"{seconds:.2f} s")
    d.tl.figure("auto-rollback: first 502 → first 200", f"{restore:.2f} s")
    d.tl.figure("auto-rollback deployment (with the stack reconcile)", f"{finished - started:.2f} s")
    d.tl.record(f"Sprout rolled prod back to build #1 by itself on alarm {fired} (deployment {current['id']}); build #2 "
                f"quarantined; first 502 → first 200: {restore:.1f} s = "
                + " + ".join(f"{name} {seconds:.1f} s" for name, seconds in parts.items()))
    d.traffic.rate = STEADY_RATE
