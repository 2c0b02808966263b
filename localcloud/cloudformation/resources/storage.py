"""AWS::DynamoDB::Table, AWS::S3::Bucket, AWS::Logs::LogGroup."""

from __future__ import annotations

from typing import Any

from . import s3_notifications
from .base import (
    MUTABLE,
    REPLACE,
    Context,
    Provisioned,
    ResourceFailed,
    ResourceType,
    changed_properties,
    register,
    tags_dict,
    unless_gone,
)


def _throughput(value: Any) -> dict[str, int]:
    return {
        "ReadCapacityUnits": int(value["ReadCapacityUnits"]),
        "WriteCapacityUnits": int(value["WriteCapacityUnits"]),
    }


def _gsi(index: dict[str, Any], billing: str) -> dict[str, Any]:
    out = {
        "IndexName": index["IndexName"],
        "KeySchema": index["KeySchema"],
        "Projection": index["Projection"],
    }
    if billing != "PAY_PER_REQUEST" and index.get("ProvisionedThroughput"):
        out["ProvisionedThroughput"] = _throughput(index["ProvisionedThroughput"])
    return out


@register
class Table(ResourceType):
    type_name = "AWS::DynamoDB::Table"
    properties = {
        "TableName": REPLACE,
        "KeySchema": REPLACE,
        "LocalSecondaryIndexes": REPLACE,
        "AttributeDefinitions": MUTABLE,
        "BillingMode": MUTABLE,
        "ProvisionedThroughput": MUTABLE,
        "GlobalSecondaryIndexes": MUTABLE,
        "StreamSpecification": MUTABLE,
        "TimeToLiveSpecification": MUTABLE,
        "PointInTimeRecoverySpecification": MUTABLE,
        "SSESpecification": MUTABLE,
        "DeletionProtectionEnabled": MUTABLE,
        "TableClass": MUTABLE,
        "Tags": MUTABLE,
    }
    required = ("KeySchema",)
    attributes = ("Arn", "StreamArn")

    def _attrs(self, table: dict[str, Any]) -> dict[str, Any]:
        attrs = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attrs["StreamArn"] = table["LatestStreamArn"]
        return attrs

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        ddb = ctx.client("dynamodb")
        name = props.get("TableName") or ctx.physical_name(logical_id, 255)
        billing = props.get("BillingMode", "PROVISIONED")
        kwargs: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props.get("AttributeDefinitions", []),
            "BillingMode": billing,
        }
        if billing == "PROVISIONED":
            if not props.get("ProvisionedThroughput"):
                raise ResourceFailed("ProvisionedThroughput is required when BillingMode is PROVISIONED")
            kwargs["ProvisionedThroughput"] = _throughput(props["ProvisionedThroughput"])
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = [_gsi(i, billing) for i in props["GlobalSecondaryIndexes"]]
        if props.get("LocalSecondaryIndexes"):
            kwargs["LocalSecondaryIndexes"] = props["LocalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        if props.get("SSESpecification"):
            kwargs["SSESpecification"] = props["SSESpecification"]
        if props.get("TableClass"):
            kwargs["TableClass"] = props["TableClass"]
        if "DeletionProtectionEnabled" in props:
            kwargs["DeletionProtectionEnabled"] = bool(props["DeletionProtectionEnabled"])
        if props.get("Tags"):
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags_dict(props["Tags"]).items()]
        table = ddb.create_table(**kwargs)["TableDescription"]
        if props.get("TimeToLiveSpecification"):
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=self._ttl(props))
        if props.get("PointInTimeRecoverySpecification"):
            ddb.update_continuous_backups(
                TableName=name, PointInTimeRecoverySpecification=props["PointInTimeRecoverySpecification"]
            )
        return Provisioned(name, self._attrs(table))

    def _ttl(self, props: dict[str, Any]) -> dict[str, Any]:
        spec = props["TimeToLiveSpecification"]
        return {"Enabled": bool(spec.get("Enabled")), "AttributeName": spec["AttributeName"]}

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        ddb = ctx.client("dynamodb")
        name = current.physical_id
        changed = set(changed_properties(old, new))
        billing = new.get("BillingMode", "PROVISIONED")
        kwargs: dict[str, Any] = {}
        if changed & {"BillingMode", "ProvisionedThroughput"}:
            kwargs["BillingMode"] = billing
            if billing == "PROVISIONED":
                kwargs["ProvisionedThroughput"] = _throughput(new["ProvisionedThroughput"])
        if "StreamSpecification" in changed:
            spec = new.get("StreamSpecification")
            kwargs["StreamSpecification"] = (
                {"StreamEnabled": True, **spec} if spec else {"StreamEnabled": False}
            )
        if "SSESpecification" in changed and new.get("SSESpecification"):
            kwargs["SSESpecification"] = new["SSESpecification"]
        if "TableClass" in changed and new.get("TableClass"):
            kwargs["TableClass"] = new["TableClass"]
        if "DeletionProtectionEnabled" in changed:
            kwargs["DeletionProtectionEnabled"] = bool(new.get("DeletionProtectionEnabled", False))
        if "GlobalSecondaryIndexes" in changed or "AttributeDefinitions" in changed:
            old_idx = {i["IndexName"]: i for i in old.get("GlobalSecondaryIndexes") or []}
            new_idx = {i["IndexName"]: i for i in new.get("GlobalSecondaryIndexes") or []}
            updates: list[dict[str, Any]] = [
                {"Delete": {"IndexName": n}} for n in old_idx if n not in new_idx
            ]
            for n, idx in new_idx.items():
                if n not in old_idx:
                    updates.append({"Create": _gsi(idx, billing)})
                elif old_idx[n] != idx:
                    if old_idx[n].get("KeySchema") != idx.get("KeySchema") or old_idx[n].get(
                        "Projection"
                    ) != idx.get("Projection"):
                        raise ResourceFailed(
                            f"GlobalSecondaryIndexes: index {n} changes KeySchema/Projection; rename it to replace it"
                        )
                    if billing == "PROVISIONED" and idx.get("ProvisionedThroughput"):
                        updates.append(
                            {
                                "Update": {
                                    "IndexName": n,
                                    "ProvisionedThroughput": _throughput(idx["ProvisionedThroughput"]),
                                }
                            }
                        )
            if updates:
                kwargs["AttributeDefinitions"] = new.get("AttributeDefinitions", [])
                kwargs["GlobalSecondaryIndexUpdates"] = updates
        if kwargs:
            ddb.update_table(TableName=name, **kwargs)
        if "TimeToLiveSpecification" in changed:
            if new.get("TimeToLiveSpecification"):
                ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=self._ttl(new))
            elif old.get("TimeToLiveSpecification", {}).get("Enabled"):
                ddb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={
                        "Enabled": False,
                        "AttributeName": old["TimeToLiveSpecification"]["AttributeName"],
                    },
                )
        if "PointInTimeRecoverySpecification" in changed:
            spec = new.get("PointInTimeRecoverySpecification") or {"PointInTimeRecoveryEnabled": False}
            ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=spec)
        if "Tags" in changed:
            arn = current.attrs["Arn"]
            old_tags, new_tags = tags_dict(old.get("Tags")), tags_dict(new.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                ddb.untag_resource(ResourceArn=arn, TagKeys=gone)
            if new_tags:
                ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in new_tags.items()])
        table = ddb.describe_table(TableName=name)["Table"]
        return Provisioned(name, self._attrs(table))

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("dynamodb").delete_table, TableName=current.physical_id)


def _s3_buckets(account_id: str) -> Any:
    from localcloud.moto_hooks import require

    backends = require("moto.s3.models", "s3_backends", "whether a bucket exists, whoever may see it")
    return backends[account_id]["aws"].buckets


@register
class Bucket(ResourceType):
    type_name = "AWS::S3::Bucket"
    properties = {
        "BucketName": REPLACE,
        "Tags": MUTABLE,
        "VersioningConfiguration": MUTABLE,
        "LifecycleConfiguration": MUTABLE,
        "CorsConfiguration": MUTABLE,
        "PublicAccessBlockConfiguration": MUTABLE,
        "BucketEncryption": MUTABLE,
        "NotificationConfiguration": MUTABLE,
    }
    attributes = ("Arn", "DomainName", "RegionalDomainName", "WebsiteURL", "DualStackDomainName")

    def _attrs(self, ctx: Context, name: str) -> dict[str, Any]:
        return {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{ctx.region}.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{ctx.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{ctx.region}.amazonaws.com",
        }

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name = props.get("BucketName") or ctx.physical_name(logical_id, 63, lowercase=True)
        s3 = ctx.client("s3")
        # CreateBucket in us-east-1 answers 200 for a bucket the account owns already (S3's legacy
        # behaviour); CloudFormation does not take it over: the resource fails, and a rollback leaves
        # the bucket to whoever made it. (Asked of S3's state, not of the stack role's permissions.)
        if name in _s3_buckets(ctx.account_id):
            raise ResourceFailed(f"{name} already exists")
        s3.create_bucket(Bucket=name)
        self._configure(ctx, name, {}, props)
        return Provisioned(name, self._attrs(ctx, name))

    def _configure(self, ctx: Context, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        s3 = ctx.client("s3")
        changed = set(changed_properties(old, new))
        if "Tags" in changed:
            if new.get("Tags"):
                tagset = [{"Key": k, "Value": v} for k, v in tags_dict(new["Tags"]).items()]
                s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tagset})
            else:
                s3.delete_bucket_tagging(Bucket=name)
        if "VersioningConfiguration" in changed:
            status = (new.get("VersioningConfiguration") or {"Status": "Suspended"})["Status"]
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
        if "LifecycleConfiguration" in changed:
            if new.get("LifecycleConfiguration"):
                s3.put_bucket_lifecycle_configuration(
                    Bucket=name, LifecycleConfiguration=new["LifecycleConfiguration"]
                )
            else:
                s3.delete_bucket_lifecycle(Bucket=name)
        if "CorsConfiguration" in changed:
            if new.get("CorsConfiguration"):
                s3.put_bucket_cors(
                    Bucket=name, CORSConfiguration={"CORSRules": new["CorsConfiguration"]["CorsRules"]}
                )
            else:
                s3.delete_bucket_cors(Bucket=name)
        if "PublicAccessBlockConfiguration" in changed:
            if new.get("PublicAccessBlockConfiguration"):
                s3.put_public_access_block(
                    Bucket=name, PublicAccessBlockConfiguration=new["PublicAccessBlockConfiguration"]
                )
            else:
                s3.delete_public_access_block(Bucket=name)
        if "BucketEncryption" in changed:
            if new.get("BucketEncryption"):
                # CloudFormation says ServerSideEncryptionByDefault where the S3 API says ApplyServerSideEncryptionByDefault
                rules = [
                    {("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v for k, v in rule.items()}
                    for rule in new["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
                s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
            else:
                s3.delete_bucket_encryption(Bucket=name)
        if "NotificationConfiguration" in changed:
            s3_notifications.put(ctx, name, new.get("NotificationConfiguration"))

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        self._configure(ctx, current.physical_id, old, new)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("s3").delete_bucket, Bucket=current.physical_id)


@register
class LogGroup(ResourceType):
    type_name = "AWS::Logs::LogGroup"
    properties = {"LogGroupName": REPLACE, "KmsKeyId": REPLACE, "RetentionInDays": MUTABLE, "Tags": MUTABLE}
    attributes = ("Arn",)

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        logs = ctx.client("logs")
        name = props.get("LogGroupName") or ctx.physical_name(logical_id, 512)
        kwargs: dict[str, Any] = {"logGroupName": name}
        if props.get("KmsKeyId"):
            kwargs["kmsKeyId"] = props["KmsKeyId"]
        if props.get("Tags"):
            kwargs["tags"] = tags_dict(props["Tags"])
        logs.create_log_group(**kwargs)
        if props.get("RetentionInDays"):
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        return Provisioned(name, {"Arn": f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{name}:*"})

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        logs = ctx.client("logs")
        name = current.physical_id
        changed = set(changed_properties(old, new))
        if "RetentionInDays" in changed:
            if new.get("RetentionInDays"):
                logs.put_retention_policy(logGroupName=name, retentionInDays=int(new["RetentionInDays"]))
            else:
                logs.delete_retention_policy(logGroupName=name)
        if "Tags" in changed:
            arn = current.attrs["Arn"].removesuffix(":*")
            old_tags, new_tags = tags_dict(old.get("Tags")), tags_dict(new.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                logs.untag_resource(resourceArn=arn, tagKeys=gone)
            if new_tags:
                logs.tag_resource(resourceArn=arn, tags=new_tags)
        return current

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("logs").delete_log_group, logGroupName=current.physical_id)
