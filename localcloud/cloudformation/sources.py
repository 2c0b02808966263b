"""Where a stack's template and its local code come from, and its preparation in the API call.

- The template: a body, a ``file://`` URL (its folder becomes the base of relative paths), or an
  S3 URL of the local S3 (``s3://``, path-style or virtual-hosted). The stack tag
  ``localcloud:template-dir`` gives the base directory of a body.
- Local code the template points at is zipped and uploaded, keyed by its content, to the bucket
  ``localcloud-artifacts-{account}-{region}`` (made on first use).
- Parameters of type ``AWS::SSM::Parameter::Value<...>`` are read from the local Parameter Store.
- ``Parameters`` of a call become the values the template is prepared with (``UsePreviousValue``
  takes the stack's).
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import sam
from .account import Account
from .model import Stack, validation
from .prepare import InvalidTemplate, Prepared, prepare
from .resources.base import error_text
from .template import TemplateError

log = logging.getLogger("localcloud.cloudformation")

TEMPLATE_DIR_TAG = "localcloud:template-dir"
ARTIFACT_BUCKET = "localcloud-artifacts-{account_id}-{region}"


class Sources:
    def __init__(self, account: Account):
        self.account = account
        self._bucket_ready = False

    def template_source(
        self, body: str | None, url: str | None, tags: dict[str, str]
    ) -> tuple[str, Path | None, str]:
        """(body, base dir for relative local paths, name of the source for messages)."""
        base = Path(tags[TEMPLATE_DIR_TAG]) if tags.get(TEMPLATE_DIR_TAG) else None
        if body:
            return body, base, "template"
        if not url:
            raise validation("Either Template URL or Template Body must be specified.")
        if url.startswith("file://"):
            path = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
            try:
                return path.read_text(encoding="utf-8"), base or path.parent, str(path)
            except OSError as e:
                raise validation(f"TemplateURL {url} cannot be read: {e.strerror or e}") from None
        bucket, key = s3_location(url)
        try:
            data = self.account.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as e:
            raise validation(
                f"TemplateURL must reference a valid S3 object to which you have access ({url}: {error_text(e)})"
            ) from None
        return data.decode("utf-8"), base, url

    def _upload(self, data: bytes, suffix: str) -> tuple[str, str]:
        s3 = self.account.client("s3")
        bucket = ARTIFACT_BUCKET.format(account_id=self.account.account_id, region=self.account.region)
        if not self._bucket_ready:
            try:
                s3.head_bucket(Bucket=bucket)
            except ClientError:
                s3.create_bucket(Bucket=bucket)
            self._bucket_ready = True
        key = sam.content_key(data, suffix)
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        return bucket, key

    def _ssm(self, name: str) -> str:
        try:
            found = self.account.client("ssm").get_parameter(Name=name)["Parameter"]
        except ClientError as e:
            # CloudFormation's words for a parameter of type AWS::SSM::Parameter::Value<...>
            raise TemplateError(
                f"Unable to fetch parameters [{name}] from parameter store for this account. ({error_text(e)})"
            ) from None
        if found["Type"] == "SecureString":  # CloudFormation's parameter types never take a SecureString
            raise TemplateError(f"Parameters [{name}] referenced by template have types not supported by CloudFormation.")
        return found["Value"]

    def prepare(
        self, stack: Stack, body: str, parameters: dict[str, str], base_dir: Path | None, source: str
    ) -> Prepared:
        try:
            return prepare(body, parameters, self.account.pseudo(stack), base_dir, self._upload, self._ssm, source)
        except (ClientError, BotoCoreError) as e:
            raise TemplateError(f"packaging artifacts failed: {e}") from None

    def try_prepare(
        self, stack: Stack, body: str, given: dict[str, str], base_dir: Path | None, source: str
    ) -> tuple[Prepared | None, str | None]:
        """(plan, None), or (None, why) for a template that fails the stack rather than the call."""
        try:
            return self.prepare(stack, body, given, base_dir, source), None
        except InvalidTemplate as e:
            raise validation(str(e)) from None
        except TemplateError as e:
            return None, str(e)
        except Exception as e:  # a bug must fail the stack, not the server
            log.exception("preparing stack %s failed", stack.name)
            return None, f"Internal error preparing the template: {type(e).__name__}: {e}"


def same(old: Prepared, new: Prepared) -> bool:
    return old.template == new.template and old.parameters == new.parameters


def parameter_values(parameters: list[dict[str, Any]], previous: dict[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in parameters or []:
        key = p.get("ParameterKey")
        if not key:
            raise validation("Parameters: every parameter needs a ParameterKey")
        use_previous = str(p.get("UsePreviousValue", "false")).lower() == "true"
        if use_previous:
            if p.get("ParameterValue"):
                raise validation(
                    f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true and non empty value for a parameter"
                )
            if previous is None or key not in previous:
                raise validation(
                    f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter that has no previous value"
                )
            out[key] = previous[key]
        else:
            out[key] = "" if p.get("ParameterValue") is None else str(p["ParameterValue"])
    return out


def s3_location(url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(url)
    path = urllib.parse.unquote(parsed.path.lstrip("/"))
    if parsed.scheme == "s3":
        return parsed.netloc, path
    host = parsed.hostname or ""
    m = re.match(r"^(?P<bucket>.+)\.s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com$", host)
    if m and not host.startswith("s3."):
        return m.group("bucket"), path
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise validation(f"TemplateURL must reference a valid S3 object: {url}")
    return bucket, key
