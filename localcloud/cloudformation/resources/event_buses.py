"""AWS::Events::EventBus: a custom event bus (``Ref``: its name; ``Arn``, ``Name`` attributes).
Rules on it (``AWS::Events::Rule`` with ``EventBusName``) get the events put on it, delivered by
localcloud.events_router like the default bus's. Partner event buses (``EventSourceName``),
dead-letter configurations and customer-managed keys are not supported (not in the table)."""

from __future__ import annotations

from typing import Any

from .base import (
    MUTABLE,
    REPLACE,
    Context,
    Provisioned,
    ResourceFailed,
    ResourceType,
    as_json_text,
    changed_properties,
    register,
    tags_dict,
    unless_gone,
)


@register
class EventBus(ResourceType):
    type_name = "AWS::Events::EventBus"
    properties = {"Name": REPLACE, "Description": MUTABLE, "Policy": MUTABLE, "Tags": MUTABLE}
    required = ("Name",)
    attributes = ("Arn", "Name", "Policy")

    def create(self, ctx: Context, logical_id: str, props: dict[str, Any]) -> Provisioned:
        name = str(props["Name"])
        if name == "default":
            raise ResourceFailed("Name default: the default event bus exists already")
        kwargs: dict[str, Any] = {"Name": name}
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        if props.get("Tags"):
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags_dict(props["Tags"]).items()]
        arn = ctx.client("events").create_event_bus(**kwargs)["EventBusArn"]
        if props.get("Policy"):
            self._policy(ctx, name, props["Policy"])
        return Provisioned(name, {"Arn": arn, "Name": name, "Policy": as_json_text(props.get("Policy") or "")})

    def _policy(self, ctx: Context, name: str, policy: Any) -> None:
        ctx.client("events").put_permission(EventBusName=name, Policy=as_json_text(policy))

    def update(
        self, ctx: Context, logical_id: str, current: Provisioned, old: dict[str, Any], new: dict[str, Any]
    ) -> Provisioned:
        events = ctx.client("events")
        changed = set(changed_properties(old, new))
        arn = current.attrs["Arn"]
        if "Description" in changed:
            events.update_event_bus(Name=current.physical_id, Description=new.get("Description", ""))
        if "Policy" in changed:
            if new.get("Policy"):
                self._policy(ctx, current.physical_id, new["Policy"])
            else:
                events.remove_permission(EventBusName=current.physical_id, RemoveAllPermissions=True)
        if "Tags" in changed:
            old_tags, new_tags = tags_dict(old.get("Tags")), tags_dict(new.get("Tags"))
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                events.untag_resource(ResourceARN=arn, TagKeys=gone)
            if new_tags:
                events.tag_resource(ResourceARN=arn, Tags=[{"Key": k, "Value": v} for k, v in new_tags.items()])
        return Provisioned(current.physical_id, {**current.attrs, "Policy": as_json_text(new.get("Policy") or "")})

    def delete(self, ctx: Context, current: Provisioned, props: dict[str, Any]) -> None:
        unless_gone(ctx.client("events").delete_event_bus, Name=current.physical_id)
