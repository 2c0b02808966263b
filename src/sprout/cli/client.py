"""A SigV4-signing client of Sprout's HTTP API (the CLI reaches Sprout only through its API)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

STACK_NAME = "sprout"


class ApiError(Exception):
    def __init__(self, status: int, body: Any):
        message = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


def discover_api_url(stack: str | None = None) -> str:
    """SPROUT_API_URL, else the ApiUrl output of Sprout's stack (SPROUT_STACK_NAME, default `sprout`)."""
    if os.environ.get("SPROUT_API_URL"):
        return os.environ["SPROUT_API_URL"].rstrip("/")
    stack = stack or os.environ.get("SPROUT_STACK_NAME") or STACK_NAME
    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == "ApiUrl":
            return output["OutputValue"].rstrip("/")
    raise RuntimeError(f"stack {stack} has no ApiUrl output")


@dataclass
class SproutClient:
    base_url: str
    timeout: float = 60.0

    def __post_init__(self) -> None:
        session = boto3.session.Session()
        self._credentials = session.get_credentials()
        self._region = session.region_name or "us-east-1"
        if self._credentials is None:
            raise RuntimeError("no AWS credentials found: Sprout's API takes SigV4-signed requests")

    def request(self, method: str, path: str, body: Any = None, query: dict | None = None) -> Any:
        url = self.base_url.rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        aws_request = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(self._credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(
            aws_request
        )
        http_request = urllib.request.Request(
            url, data=data, method=method, headers=dict(aws_request.headers.items())
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:
                payload = response.read()
                return json.loads(payload) if payload else None
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = payload.decode(errors="replace")
            raise ApiError(e.code, parsed) from None

    def build_if_settled(self, app: str, number: int, stage: str | None = None) -> dict | None:
        """Build ``number`` of ``app`` once it has failed, or succeeded and (with ``stage``) its
        deployment there has finished; None while it is not recorded yet or still going."""
        try:
            build = self.request("GET", f"/apps/{app}/builds/{number}")
        except ApiError as e:
            if e.status == 404:
                return None
            raise
        if build["status"] == "BUILDING":
            return None
        if build["status"] == "FAILED" or stage is None:
            return build
        deployment = (build.get("deployedTo") or {}).get(stage)
        return build if deployment and deployment["status"] != "IN_PROGRESS" else None

    def wait_for_build(
        self, app: str, number: int, stage: str | None = None, timeout: float = 120.0, every: float = 0.25
    ) -> dict:
        """``build_if_settled``, polled until it answers; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            build = self.build_if_settled(app, number, stage)
            if build is not None:
                return build
            if time.monotonic() > deadline:
                where = f" on {stage}" if stage else ""
                raise TimeoutError(f"build {number} of {app} did not settle{where} within {timeout:.0f} s")
            time.sleep(every)
