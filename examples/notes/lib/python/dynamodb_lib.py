"""The notes table, through boto3's defaults (region, credentials and endpoint come from the environment)."""

from __future__ import annotations

import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
