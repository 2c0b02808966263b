"""Where a Step Functions execution spent its time, from its history."""

from __future__ import annotations

from typing import Any


def state_visits(history: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Seconds of each visit of each state (entered → exited), states in the order they first
    finished; a state entered and not yet exited is left out."""
    entered: dict[str, Any] = {}
    visits: dict[str, list[float]] = {}
    for event in history:
        if event["type"].endswith("StateEntered"):
            entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
        elif event["type"].endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if name in entered:
                visits.setdefault(name, []).append((event["timestamp"] - entered.pop(name)).total_seconds())
    return visits
