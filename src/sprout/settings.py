"""Typed settings from the environment, checked once at cold start.

There are no defaults that would hide a missing setting: a function that lacks one fails its
cold start with the variable's name. Where Sprout runs is not a setting: boto3's own defaults
(AWS_ENDPOINT_URL, region, credentials) decide that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


class MissingSetting(RuntimeError):
    pass


def require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise MissingSetting(f"environment variable {name} is not set")
    return value


@dataclass(frozen=True)
class Settings:
    table_name: str
    artifact_bucket: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(table_name=require_env("TABLE_NAME"), artifact_bucket=require_env("ARTIFACT_BUCKET"))
