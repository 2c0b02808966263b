"""A stage's settings and its secrets' metadata (never a value), one item per stage:
``pk = SETTINGS#{app}#{stage}``, ``sk = SETTINGS``, written only if it did not move since it was
read (its ``revision``), so two merges never lose each other's keys."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute
from pynamodb.exceptions import PutError

from sprout.adapters.lineage.items import Item
from sprout.adapters.lineage.table import CONDITION_FAILED, get
from sprout.domain.settings_values import SecretMeta, StageSettings


class SettingsItem(Item):
    values = JSONAttribute(default=dict)  # NAME -> value
    secrets = JSONAttribute(default=dict)  # NAME -> {"version", "by", "at"}: no value, ever
    revision = NumberAttribute(default=0)


def settings_pk(app: str, stage: str) -> str:
    return f"SETTINGS#{app}#{stage}"


SK = "SETTINGS"


class SettingsRepository:
    def read_settings(self, app: str, stage: str) -> StageSettings:
        item = get(SettingsItem, settings_pk(app, stage), SK)
        if item is None:
            return StageSettings()
        secrets = {k: SecretMeta(int(v["version"]), v.get("by", ""), v.get("at", "")) for k, v in (item.secrets or {}).items()}
        return StageSettings(dict(item.values or {}), secrets, int(item.revision))

    def write_settings(self, app: str, stage: str, settings: StageSettings) -> bool:
        revision = settings.version or 0
        item = SettingsItem(
            settings_pk(app, stage), SK, values=dict(settings.values),
            secrets={k: {"version": m.version, "by": m.by, "at": m.at} for k, m in settings.secrets.items()},
            revision=revision + 1,
        )
        condition = SettingsItem.pk.does_not_exist() if settings.version is None else SettingsItem.revision == revision
        try:
            item.save(condition=condition)
        except PutError as e:
            if e.cause_response_code == CONDITION_FAILED + "Exception":
                return False
            raise
        return True
