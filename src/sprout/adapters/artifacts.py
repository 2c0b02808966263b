"""Content-addressed build artifacts and packaged templates in S3.

- ``artifacts/{sha256}.zip``: a function's (or layer's) zip, written once: an unchanged function
  costs nothing (``head_object`` first, no upload when the key exists);
- ``templates/{app}/{build:010d}/template.yaml``: the packaged template of one build;
- ``templates/{app}/{build:010d}/functions.json``: its function manifest (logical id, sha256, S3
  key, configuration of each function), read by RecordBuildOutcome: a state machine's payloads
  carry its key only, since Step Functions refuses a state's data over 256 KB.

The bucket name is the caller's setting (``ARTIFACT_BUCKET``); the client is boto3's default.
"""

from __future__ import annotations

import hashlib
import json

import boto3
from botocore.exceptions import ClientError

from sprout.domain.errors import ArtifactNotFound, InvalidInput
from sprout.domain.packaging import artifact_key

MISSING = {"404", "NoSuchKey", "NotFound"}


def template_key(app: str, build_number: int) -> str:
    return f"templates/{app}/{int(build_number):010d}/template.yaml"


def manifest_key(app: str, build_number: int) -> str:
    return f"templates/{app}/{int(build_number):010d}/functions.json"


class ArtifactStore:
    def __init__(self, bucket: str, client=None):
        if not bucket:
            raise InvalidInput("bucket", "the artifact bucket name is required")
        self.bucket = bucket
        self.client = client or boto3.client("s3")

    def put_if_absent(self, sha256: str, data: bytes) -> bool:
        """Store ``data`` under its sha256; True when it was uploaded, False when it was there."""
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise InvalidInput("sha256", f"{sha256} is not the sha256 of the data ({actual})")
        key = artifact_key(sha256)
        if self.exists(key):
            return False
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/zip")
        return True

    def put_template(self, app: str, build_number: int, text: str) -> str:
        key = template_key(app, build_number)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/yaml")
        return key

    def put_manifest(self, app: str, build_number: int, functions: list[dict]) -> str:
        key = manifest_key(app, build_number)
        body = json.dumps(functions, separators=(",", ":"), sort_keys=True).encode("utf-8")
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        return key

    def get_manifest(self, key: str) -> list[dict]:
        return json.loads(self.read(key, f"function manifest {key} not found in bucket {self.bucket}"))

    def template_url(self, key: str) -> str:
        """The HTTPS URL CloudFormation takes as ``TemplateURL`` for a stored template."""
        region = self.client.meta.region_name
        return f"https://{self.bucket}.s3.{region}.amazonaws.com/{key}"

    def get_template(self, key: str) -> str:
        return self.read(key, f"template {key} not found in bucket {self.bucket}").decode("utf-8")

    def read(self, key: str, missing: str) -> bytes:
        """The object's bytes; ArtifactNotFound saying ``missing`` when there is no such key."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in MISSING:
                raise ArtifactNotFound(missing) from None
            raise
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in MISSING:
                return False
            raise
        return True
