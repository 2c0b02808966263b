"""Notification targets and the record of which issue told which target when.

==================  ===============================  =========================
item                pk                               sk
==================  ===============================  =========================
targets of an app   ``APP#{app}``                    ``NOTIFICATIONS``
issue told          ``NOTIFIED#{app}``               ``{target}#{stage}#{issue}``
==================  ===============================  =========================

A target is recorded with the names of what delivers it (connection, API destination, rule) and
the Parameter Store path of its secret, never the secret. "Issue told" is a conditional write:
the first writer in a quiet window wins, every other is refused; the item expires (TTL) after it.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError

from sprout.adapters.lineage.items import Item, app_pk
from sprout.adapters.lineage.table import get

SK = "NOTIFICATIONS"


class NotificationsItem(Item):
    app = UnicodeAttribute()
    targets = JSONAttribute()
    updated_at = UnicodeAttribute(null=True)


class NotifiedItem(Item):
    at = NumberAttribute()  # epoch seconds of the notification that opened the window
    expiration = NumberAttribute()  # the table's TTL attribute


class NotificationRepository:
    def notification_targets(self, app: str) -> list[dict[str, Any]]:
        item = get(NotificationsItem, app_pk(app), SK)
        return list(item.targets or []) if item is not None else []

    def save_notification_targets(self, app: str, targets: list[dict[str, Any]], at: str) -> None:
        NotificationsItem(app_pk(app), SK, app=app, targets=targets, updated_at=at).save()

    def claim_quiet_window(self, app: str, key: str, now: float, window: float) -> bool:
        """True when no notification for ``key`` was sent in the last ``window`` seconds (and
        records this one); False when one was."""
        item = NotifiedItem(f"NOTIFIED#{app}", key, at=int(now), expiration=int(now + window) + 60)
        try:
            item.save(condition=NotifiedItem.pk.does_not_exist() | (NotifiedItem.at <= int(now - window)))
        except PutError as e:
            if e.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release_quiet_window(self, app: str, key: str, now: float) -> None:
        """Gives back the window ``claim_quiet_window`` opened at ``now`` when nobody was told after
        all (the message could not be queued): only that claim, never a later one."""
        try:
            NotifiedItem(f"NOTIFIED#{app}", key).delete(condition=NotifiedItem.at == int(now))
        except DeleteError as e:
            if e.cause_response_code != "ConditionalCheckFailedException":
                raise
