"""Where moto's behaviour differs from AWS's in a way stack updates run into (hooks, see
localcloud/moto_hooks.py)."""

from __future__ import annotations

from typing import Any

from ..moto_hooks import hook


def install() -> None:
    @hook(
        "moto.apigateway.models",
        "RestAPI.delete_deployment",
        "API Gateway refuses to delete a deployment only while a stage points to it; moto refuses "
        "whenever the stage the deployment was created with exists, even after it moved to a new "
        "deployment (reads RestAPI.deployments, RestAPI.stages, Stage.deployment_id)",
    )
    def delete_deployment(original: Any, self: Any, deployment_id: str) -> Any:
        in_use = any(getattr(stage, "deployment_id", None) == deployment_id for stage in self.stages.values())
        if deployment_id in self.deployments and not in_use:
            return self.deployments.pop(deployment_id)
        return original(self, deployment_id)

    @hook(
        "moto.s3.responses",
        "S3Response._encryption_config_from_body",
        "PutBucketEncryption takes a rule without ApplyServerSideEncryptionByDefault (BucketKeyEnabled "
        "only), as S3 does: the bucket keeps S3's default SSE-S3 (AES256); moto answered MalformedXML",
    )
    def encryption_config(original: Any, self: Any) -> Any:
        import xmltodict

        parsed = xmltodict.parse(self.body)
        rule = (parsed.get("ServerSideEncryptionConfiguration") or {}).get("Rule")
        if isinstance(rule, dict) and not rule.get("ApplyServerSideEncryptionByDefault"):
            rule["ApplyServerSideEncryptionByDefault"] = {"SSEAlgorithm": "AES256"}
            return parsed["ServerSideEncryptionConfiguration"]
        return original(self)
