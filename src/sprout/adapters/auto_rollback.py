"""Auto-rollback settings of a stage (placeholder until the auto-rollback alarms land: no stage is
watched yet, so every stage has the default cool-down)."""

from __future__ import annotations


class AutoRollbackSettings:
    def get(self, app: str, stage: str) -> dict | None:
        return None


def ensure_default(app: str, stage: str) -> None:
    return None
