"""Lambda's limits and version numbering, as the Lambda API enforces them (moto enforces neither).

- **Code size** (Lambda quotas): a .zip uploaded in the request (``ZipFile``) is at most 50 MB,
  else ``RequestEntityTooLargeException`` (413) "Request must be smaller than 69905067 bytes for the
  <Operation> operation" (69905067: 50 MB in base64, as the request carries it); the unzipped size
  of a function's code plus all its layers is at most 250 MB (262144000 bytes), else
  ``InvalidParameterValueException`` "Unzipped size must be smaller than 262144000 bytes" — for
  CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration (Layers) and
  PublishLayerVersion, whether the zip came in the request or from S3. The unzipped size is what
  the zip's directory declares; extraction (code.py) never writes more than that.
- **Payloads** of Invoke (the Invoke API reference): 6 MB (6291456 bytes) synchronous, 1 MB
  (1048576 bytes) asynchronous (256 KB until 2025, and still for the deprecated InvokeAsync);
  beyond, ``RequestEntityTooLargeException`` (413) "Request must be smaller than <n> bytes for the
  InvokeFunction operation" (__init__.py answers it).
- **Version numbers** (PublishVersion): numbers only grow and are never reused, even after the
  highest version was deleted; a publish when neither the code (CodeSha256) nor the configuration
  changed since the latest published version returns that version (moto numbered by the count of
  versions left and published again after any UpdateFunctionCode).
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from typing import Any

from localcloud.moto_hooks import hook, require

MAX_DIRECT_ZIP = 50 * 1024 * 1024  # 52428800 bytes
MAX_DIRECT_REQUEST = 69905067  # the same, base64-encoded, as Lambda's message counts it
MAX_UNZIPPED = 262144000  # 250 MB, function code and its layers together
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # 6291456 bytes
MAX_ASYNC_PAYLOAD = 1024 * 1024  # 1048576 bytes


def unzipped_size(data: bytes) -> int:
    """What ``data`` unpacks to, by its zip directory (0 for bytes that are not a zip: their
    failure is the runner's InvalidZipFileException at invoke, as on Lambda)."""
    if not data:
        return 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return 0


def too_large_request(operation: str, limit: int = MAX_DIRECT_REQUEST) -> str:
    return f"Request must be smaller than {limit} bytes for the {operation} operation"


UNZIPPED_MESSAGE = f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes"

# The configuration a published version snapshots: publishing again without a change returns it.
_VERSIONED = (
    "code_sha_256", "handler", "run_time", "memory_size", "timeout", "role", "environment_vars",
    "layers", "description", "ephemeral_storage", "_architectures", "tracing_config", "_vpc_config",
    "kms_key_arn", "image_config", "package_type", "_localcloud_logging_config",
)


def _fingerprint(fn: Any) -> str:
    values = {}
    for name in _VERSIONED:
        value = getattr(fn, name, None)
        if name == "layers":
            value = [layer.get("Arn") for layer in value or []]
        elif name == "image_config":
            value = value.response() if hasattr(value, "response") else None
        values[name] = value
    return json.dumps(values, sort_keys=True, default=str)


def install(cloud: Any) -> None:
    lambda_client_error = require("moto.awslambda.exceptions", "LambdaClientError", "Lambda API errors")
    invalid = require(
        "moto.awslambda.exceptions", "InvalidParameterValueException", "Lambda's InvalidParameterValueException"
    )
    backends = require("moto.awslambda.models", "lambda_backends", "find the layers a function names")
    layer_sizes: dict[str, int] = {}  # layer version ARN -> unzipped size (a layer version never changes)

    class TooLarge(lambda_client_error):  # type: ignore[misc, valid-type]
        code = 413

        def __init__(self, message: str):
            super().__init__("RequestEntityTooLargeException", message)

    def layers_size(fn: Any, arns: list[str]) -> int:
        backend = backends[fn.account_id][fn.region]
        total = 0
        for arn in arns:
            if arn not in layer_sizes:
                layer = backend.layers_versions_by_arn(arn)
                layer_sizes[arn] = unzipped_size(getattr(layer, "code_bytes", b"")) if layer is not None else 0
            total += layer_sizes[arn]
        return total

    def layer_arns(fn: Any) -> list[str]:
        return [layer.get("Arn") for layer in getattr(fn, "layers", None) or [] if layer.get("Arn")]

    @hook(
        "moto.awslambda.models",
        "LambdaFunction._set_function_code",
        "Lambda's code-size limits (50 MB zipped in the request, 250 MB unzipped with layers)",
    )
    def set_function_code(original, fn, spec):
        from_update = spec is not fn.code
        if from_update and spec.get("DryRun"):
            return original(fn, spec)
        operation = "UpdateFunctionCode" if from_update else "CreateFunction"
        zipped = spec.get("ZipFile")
        if zipped is not None and len(zipped) > (MAX_DIRECT_REQUEST if isinstance(zipped, str) else MAX_DIRECT_ZIP):
            raise TooLarge(too_large_request(operation))
        kept = {k: getattr(fn, k) for k in ("code_bytes", "code_size", "code_sha_256", "code_digest") if hasattr(fn, k)}
        kept_code = copy.copy(fn.code)
        original(fn, spec)
        total = unzipped_size(getattr(fn, "code_bytes", b"")) + layers_size(fn, layer_arns(fn))
        if total >= MAX_UNZIPPED:
            for key, value in kept.items():  # an update that fails changes nothing
                setattr(fn, key, value)
            if from_update:
                fn.code.clear()
                fn.code.update(kept_code)
            raise invalid(UNZIPPED_MESSAGE)

    @hook(
        "moto.awslambda.models",
        "LambdaFunction.update_configuration",
        "layers count toward the function's 250 MB unzipped",
    )
    def update_configuration(original, fn, updates):
        if updates.get("Layers") is not None:
            total = unzipped_size(getattr(fn, "code_bytes", b"")) + layers_size(fn, list(updates["Layers"]))
            if total >= MAX_UNZIPPED:
                raise invalid(UNZIPPED_MESSAGE)
        return original(fn, updates)

    @hook("moto.awslambda.models", "LayerVersion.__init__", "a layer's code-size limits, as a function's")
    def layer_init(original, layer, spec, account_id, region):
        zipped = (spec.get("Content") or {}).get("ZipFile")
        if zipped is not None and len(zipped) > (MAX_DIRECT_REQUEST if isinstance(zipped, str) else MAX_DIRECT_ZIP):
            raise TooLarge(too_large_request("PublishLayerVersion"))
        original(layer, spec, account_id, region)
        if unzipped_size(getattr(layer, "code_bytes", b"")) >= MAX_UNZIPPED:
            raise invalid(UNZIPPED_MESSAGE)

    @hook(
        "moto.awslambda.models",
        "LambdaStorage.publish_version",
        "version numbers never reused; an unchanged function publishes nothing new",
    )
    def publish_version(original, storage, name_or_arn, description=""):  # noqa: ARG001
        function = storage.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
        name = function.function_name
        entry = storage._functions.get(name)
        if not entry or not entry["latest"]:
            return None
        latest = entry["latest"]
        versions = entry["versions"]
        current = _fingerprint(latest)
        if versions and getattr(versions[-1], "_localcloud_fingerprint", None) == current:
            return versions[-1]
        number = max(getattr(latest, "_localcloud_last_version", 0), *(int(v.version) for v in versions), 0) + 1
        published = copy.copy(latest)
        published.set_version(number)
        published._localcloud_fingerprint = current
        if description:
            published.description = description
        versions.append(published)
        storage._arns[published.function_arn] = published
        latest._localcloud_last_version = number
        latest.code_or_config_updated = False
        return published
