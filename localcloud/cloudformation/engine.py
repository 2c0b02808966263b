"""The provisioner: stack operations as the API asks for them, carried out on background threads.

``Engine`` keeps every stack and change set (in memory, under one lock). Preparing a template
(parse, package, translate, check) happens in the API call; provisioning happens on a thread per
operation, resource by resource in dependency order, each step recorded as stack events:

- create: CREATE_IN_PROGRESS -> CREATE_COMPLETE, or on a failure ROLLBACK_IN_PROGRESS (what was
  made is deleted, newest first) -> ROLLBACK_COMPLETE, the stack's reason naming what failed;
- update: UPDATE_IN_PROGRESS -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS (removed and replaced resources
  deleted) -> UPDATE_COMPLETE, or UPDATE_ROLLBACK_IN_PROGRESS (updates undone, new resources
  deleted) -> UPDATE_ROLLBACK_COMPLETE. A resource whose resolved properties did not change is not
  touched; one whose changed properties are all updatable is updated in place; otherwise replaced;
- delete: DELETE_IN_PROGRESS -> DELETE_COMPLETE (``DeletionPolicy: Retain`` resources are kept).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import faults
from ..urls import localize_execute_api_urls
from . import dynamic, recovery, sam, stack_role
from .diff import diff
from .intrinsics import Scope, resolve
from .model import ApiError, ChangeSet, ResourceState, Stack, now, validation
from .prepare import InvalidTemplate, Prepared, prepare, pseudo_parameters
from .resources import REGISTRY, Context, Provisioned, ResourceFailed
from .resources.base import error_text
from .template import TemplateError

log = logging.getLogger("localcloud.cloudformation")

TEMPLATE_DIR_TAG = "localcloud:template-dir"
ARTIFACT_BUCKET = "localcloud-artifacts-{account_id}-{region}"
NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)
_STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")


class _Failed(Exception):
    def __init__(self, logical_id: str | None, reason: str):
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


class _Stopping(Exception):
    pass


class Engine:
    def __init__(
        self,
        client_factory: Callable[[str], Any],
        region: str,
        account_id: str,
        endpoint: Callable[[], str],
        data_dir: Path | None = None,
    ):
        self._client_factory = client_factory
        self.region = region
        self.account_id = account_id
        self._endpoint = endpoint
        self.data_dir = data_dir
        self.lock = threading.RLock()
        self.stacks: list[Stack] = []
        self.change_sets: list[ChangeSet] = []
        self.stopping = threading.Event()
        self._bucket_ready = False
        self._clients: dict[str, Any] = {}
        self._lookup = dynamic.Lookup(ssm=self._ssm_value, secret=self._secret_value)

    # ---- lookups ---------------------------------------------------------------------------
    def find_stack(self, name_or_id: str) -> Stack:
        """A live stack by name, or any stack (deleted too) by id, as CloudFormation looks them up."""
        with self.lock:
            for stack in reversed(self.stacks):
                if stack.stack_id == name_or_id or (stack.name == name_or_id and stack.live):
                    return stack
        raise validation(f"Stack with id {name_or_id} does not exist")

    def live_stacks(self) -> list[Stack]:
        with self.lock:
            return [s for s in self.stacks if s.live]

    def all_stacks(self) -> list[Stack]:
        with self.lock:
            return list(self.stacks)

    def find_change_set(self, name_or_id: str, stack_name: str | None) -> ChangeSet:
        with self.lock:
            for cs in self.change_sets:
                if cs.change_set_id == name_or_id:
                    return cs
                if (
                    cs.name == name_or_id
                    and stack_name
                    and stack_name in (cs.stack.name, cs.stack.stack_id)
                    and (cs.stack.live)
                ):
                    return cs
        if not name_or_id.startswith("arn:") and not stack_name:
            raise validation("StackName must be specified if ChangeSetName is not specified as an ARN.")
        raise ApiError("ChangeSetNotFound", f"ChangeSet [{name_or_id}] does not exist")

    def change_sets_of(self, stack: Stack) -> list[ChangeSet]:
        with self.lock:
            return [cs for cs in self.change_sets if cs.stack is stack]

    def exports(self) -> list[dict[str, str]]:
        out = []
        for stack in self.live_stacks():
            for output in stack.outputs:
                if output.get("ExportName"):
                    out.append(
                        {
                            "ExportingStackId": stack.stack_id,
                            "Name": output["ExportName"],
                            "Value": output["OutputValue"],
                        }
                    )
        return out

    # ---- templates -------------------------------------------------------------------------
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
        bucket, key = _s3_location(url)
        try:
            data = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as e:
            raise validation(
                f"TemplateURL must reference a valid S3 object to which you have access ({url}: {error_text(e)})"
            ) from None
        return data.decode("utf-8"), base, url

    def _client(self, service: str) -> Any:
        """One boto3 client per service, shared by all threads (boto3 clients are thread-safe)."""
        with self.lock:
            if service not in self._clients:
                self._clients[service] = self._client_factory(service)
            return self._clients[service]

    def _upload(self, data: bytes, suffix: str) -> tuple[str, str]:
        s3 = self._client("s3")
        bucket = ARTIFACT_BUCKET.format(account_id=self.account_id, region=self.region)
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
            return self._client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as e:
            # CloudFormation's words for a parameter of type AWS::SSM::Parameter::Value<...>
            raise TemplateError(
                f"Unable to fetch parameters [{name}] from parameter store for this account. ({error_text(e)})"
            ) from None

    def pseudo(self, stack: Stack) -> dict[str, Any]:
        return pseudo_parameters(stack.name, stack.stack_id, self.region, self.account_id)

    def prepare(
        self, stack: Stack, body: str, parameters: dict[str, str], base_dir: Path | None, source: str
    ) -> Prepared:
        try:
            return prepare(body, parameters, self.pseudo(stack), base_dir, self._upload, self._ssm, source)
        except (ClientError, BotoCoreError) as e:
            raise TemplateError(f"packaging artifacts failed: {e}") from None

    def _new_stack_id(self, name: str) -> str:
        return f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{name}/{uuid.uuid4()}"

    # ---- operations ------------------------------------------------------------------------
    def create_stack(
        self,
        name: str,
        body: str | None,
        url: str | None,
        parameters: list[dict[str, Any]],
        tags: dict[str, str],
        **options: Any,
    ) -> str:
        if not name or not _STACK_NAME.fullmatch(name):
            raise validation(
                f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
            )
        body, base_dir, source = self.template_source(body, url, tags)
        given = _parameter_values(parameters, None)
        self._check_new_name(name)
        role_arn = stack_role.checked(options.get("role_arn"))
        stack = Stack(
            stack_id=self._new_stack_id(name),
            name=name,
            status="CREATE_IN_PROGRESS",
            body=body,
            parameters=given,
            tags=tags,
            capabilities=options.get("capabilities") or [],
            base_dir=base_dir,
            notification_arns=options.get("notification_arns") or [],
            disable_rollback=bool(options.get("disable_rollback")),
            on_failure=options.get("on_failure") or "ROLLBACK",
            timeout_in_minutes=options.get("timeout_in_minutes"),
            role_arn=role_arn,
        )
        plan, error = self._try_prepare(stack, body, given, base_dir, source)
        with self.lock:
            self._check_new_name(name)
            self.stacks.append(stack)
            stack.set_status("CREATE_IN_PROGRESS", "User Initiated")
        self._start(stack, self._run_create, stack, plan, error, None)
        return stack.stack_id

    def _check_new_name(self, name: str) -> None:
        with self.lock:
            if any(s.live and s.name == name for s in self.stacks):
                raise ApiError("AlreadyExistsException", f"Stack [{name}] already exists")

    def update_stack(
        self,
        name: str,
        body: str | None,
        url: str | None,
        use_previous: bool,
        parameters: list[dict[str, Any]],
        tags: dict[str, str] | None,
        **options: Any,
    ) -> str:
        stack = self.find_stack(name)
        self._check_updatable(stack)
        role_arn = stack_role.checked(options.get("role_arn")) or stack.role_arn
        effective_tags = tags if tags is not None else stack.tags
        if use_previous:
            if body or url:
                raise validation(
                    "You cannot specify both usePreviousTemplate and Template Body/Template URL."
                )
            body, base_dir, source = stack.body, stack.base_dir, "template"
            if tags and tags.get(TEMPLATE_DIR_TAG):
                base_dir = Path(tags[TEMPLATE_DIR_TAG])
        else:
            body, base_dir, source = self.template_source(body, url, effective_tags)
            base_dir = base_dir or (stack.base_dir if not url else base_dir)
        given = _parameter_values(parameters, stack.parameters)
        plan, error = self._try_prepare(stack, body, given, base_dir, source)
        with self.lock:
            self._check_updatable(stack)
            if (
                plan is not None
                and stack.plan is not None
                and _same(stack.plan, plan)
                and effective_tags == stack.tags
            ):
                raise validation("No updates are to be performed.")
            self._begin_update(stack, body, base_dir, effective_tags, options.get("capabilities"))
            stack.role_arn = role_arn
        self._start(stack, self._run_update, stack, plan, error, None)
        return stack.stack_id

    def _begin_update(
        self,
        stack: Stack,
        body: str,
        base_dir: Path | None,
        tags: dict[str, str],
        capabilities: list[str] | None,
    ) -> None:
        stack.previous = (stack.body, stack.base_dir, stack.tags, stack.capabilities, stack.parameters)
        stack.body, stack.base_dir, stack.tags = body, base_dir, tags
        if capabilities is not None:
            stack.capabilities = capabilities
        stack.updated = now()
        stack.set_status("UPDATE_IN_PROGRESS", "User Initiated")

    def _check_updatable(self, stack: Stack) -> None:
        recovery.check_updatable(stack)

    def delete_stack(self, name: str) -> None:
        try:
            stack = self.find_stack(name)
        except ApiError:
            return  # deleting a stack that does not exist succeeds, as in CloudFormation
        with self.lock:
            if stack.status in ("DELETE_IN_PROGRESS", "DELETE_COMPLETE"):
                return
            if stack.in_progress:
                raise validation(f"Stack:{stack.stack_id} is in {stack.status} state and can not be deleted.")
            stack.set_status("DELETE_IN_PROGRESS", "User Initiated")
        self._start(stack, self._run_delete, stack)

    def create_change_set(
        self,
        stack_name: str,
        name: str,
        change_set_type: str,
        body: str | None,
        url: str | None,
        use_previous: bool,
        parameters: list[dict[str, Any]],
        tags: dict[str, str] | None,
        capabilities: list[str],
        description: str,
        role_arn: str | None = None,
    ) -> tuple[str, str]:
        if not name or not _STACK_NAME.fullmatch(name):
            raise validation(f"ChangeSetName {name!r} must match [a-zA-Z][-a-zA-Z0-9]*")
        if change_set_type not in ("CREATE", "UPDATE"):
            raise validation(
                f"ChangeSetType {change_set_type} is not supported by localcloud (CREATE or UPDATE)"
            )
        with self.lock:
            existing = next(
                (s for s in reversed(self.stacks) if s.live and stack_name in (s.name, s.stack_id)), None
            )
            if change_set_type == "CREATE":
                if existing is not None and existing.status != "REVIEW_IN_PROGRESS":
                    raise validation(
                        f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{name}]."
                    )
                if not _STACK_NAME.fullmatch(stack_name):
                    raise validation(f"Stack name {stack_name!r} must match [a-zA-Z][-a-zA-Z0-9]*")
            elif existing is None or existing.status == "REVIEW_IN_PROGRESS":
                raise validation(f"Stack [{stack_name}] does not exist")
            else:
                self._check_updatable(existing)
            if existing is not None and any(cs.name == name for cs in self.change_sets_of(existing)):
                raise ApiError("AlreadyExistsException", f"ChangeSet [{name}] already exists")
        effective_tags = tags if tags is not None else (existing.tags if existing else {})
        if use_previous:
            if existing is None or change_set_type == "CREATE":
                raise validation("UsePreviousTemplate can only be used for an UPDATE change set")
            body, base_dir, source = existing.body, existing.base_dir, "template"
        else:
            body, base_dir, source = self.template_source(body, url, effective_tags)
            if base_dir is None and existing is not None and not url:
                base_dir = existing.base_dir
        given = _parameter_values(parameters, existing.parameters if existing else None)
        role = stack_role.checked(role_arn)
        stack = existing or Stack(
            stack_id=self._new_stack_id(stack_name),
            name=stack_name,
            status="REVIEW_IN_PROGRESS",
            body=body,
            parameters=given,
            tags=effective_tags,
            capabilities=capabilities,
            base_dir=base_dir,
        )
        plan, error = self._try_prepare(stack, body, given, base_dir, source)
        with self.lock:
            if existing is None:
                if any(s.live and s.name == stack_name for s in self.stacks):
                    raise validation(
                        f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{name}]."
                    )
                existing = stack
                self.stacks.append(existing)
                existing.set_status("REVIEW_IN_PROGRESS", "User Initiated")
            cs = ChangeSet(
                change_set_id=f"arn:aws:cloudformation:{self.region}:{self.account_id}:changeSet/{name}/{uuid.uuid4()}",
                name=name,
                stack=existing,
                type=change_set_type,
                body=body,
                parameters=given,
                tags=effective_tags,
                capabilities=capabilities,
                description=description,
                base_dir=base_dir,
                role_arn=role or existing.role_arn,
            )
            self.change_sets.append(cs)
            cs.plan = plan
            if error:
                cs.status, cs.reason = "FAILED", error
                return cs.change_set_id, stack.stack_id
            assert plan is not None
            old = stack.plan if change_set_type == "UPDATE" else None
            physical = {lid: s.physical_id for lid, s in stack.resources.items() if s.physical_id}
            try:
                cs.changes = diff(
                    old, self.pseudo(stack) if old else None, plan, self.pseudo(stack), physical
                )
            except TemplateError as e:
                cs.status, cs.reason = "FAILED", str(e)
                return cs.change_set_id, stack.stack_id
            if old is not None and not cs.changes and _same(old, plan) and effective_tags == stack.tags:
                cs.status, cs.reason = "FAILED", NO_CHANGES
            else:
                cs.status, cs.execution_status = "CREATE_COMPLETE", "AVAILABLE"
        return cs.change_set_id, stack.stack_id

    def delete_change_set(self, name_or_id: str, stack_name: str | None) -> None:
        cs = self.find_change_set(name_or_id, stack_name)
        with self.lock:
            if cs.execution_status == "EXECUTE_IN_PROGRESS":
                raise ApiError(
                    "InvalidChangeSetStatus",
                    f"ChangeSet [{cs.change_set_id}] cannot be deleted in its current status",
                )
            self.change_sets.remove(cs)

    def execute_change_set(self, name_or_id: str, stack_name: str | None) -> None:
        cs = self.find_change_set(name_or_id, stack_name)
        stack = cs.stack
        with self.lock:
            if cs.status != "CREATE_COMPLETE" or cs.execution_status != "AVAILABLE":
                raise ApiError(
                    "InvalidChangeSetStatus",
                    f"ChangeSet [{cs.change_set_id}] cannot be executed in its current status of [{cs.status}]",
                )
            if cs.type == "CREATE":
                if stack.status != "REVIEW_IN_PROGRESS":
                    raise validation(
                        f"Stack:{stack.stack_id} is in {stack.status} state and can not be created."
                    )
                stack.parameters, stack.tags, stack.capabilities, stack.base_dir, stack.body = (
                    cs.parameters,
                    cs.tags,
                    cs.capabilities,
                    cs.base_dir,
                    cs.body,
                )
                stack.set_status("CREATE_IN_PROGRESS", "User Initiated")
                run = self._run_create
            else:
                self._check_updatable(stack)
                self._begin_update(stack, cs.body, cs.base_dir, cs.tags, cs.capabilities)
                run = self._run_update
            cs.execution_status = "EXECUTE_IN_PROGRESS"
            stack.change_set_id = cs.change_set_id
            stack.role_arn = cs.role_arn
            self.change_sets = [c for c in self.change_sets if c.stack is not stack or c is cs]
        self._start(stack, run, stack, cs.plan, None, cs)

    def _try_prepare(
        self, stack: Stack, body: str, given: dict[str, str], base_dir: Path | None, source: str
    ) -> tuple[Prepared | None, str | None]:
        try:
            return self.prepare(stack, body, given, base_dir, source), None
        except InvalidTemplate as e:
            raise validation(str(e)) from None
        except TemplateError as e:
            return None, str(e)
        except Exception as e:  # a bug must fail the stack, not the server
            log.exception("preparing stack %s failed", stack.name)
            return None, f"Internal error preparing the template: {type(e).__name__}: {e}"

    # ---- threads ---------------------------------------------------------------------------
    def _start(self, stack: Stack, target: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            except _Stopping:
                pass
            except Exception:  # never let a bug kill silently with the stack stuck in progress
                log.exception("stack %s: provisioning crashed", stack.name)
                with self.lock:
                    stack.set_status(
                        stack.status.replace("IN_PROGRESS", "FAILED"),
                        "Internal error in localcloud's provisioner",
                    )

        threading.Thread(target=run, name=f"cfn-{stack.name}", daemon=True).start()

    def _context(self, stack: Stack) -> Context:
        return Context(
            stack_role.client_factory(self._client, self._client_factory, stack.role_arn),
            stack.name,
            stack.stack_id,
            self.region,
            self.account_id,
            self._endpoint(),
            str(self.data_dir) if self.data_dir else None,
        )

    def _scope(self, stack: Stack, plan: Prepared, states: dict[str, ResourceState]) -> Scope:
        def ref(logical_id: str) -> Any:
            state = states.get(logical_id)
            if state is None or state.physical_id is None:
                raise TemplateError(f"{logical_id} has not been created")
            return state.physical_id

        def attr(logical_id: str, name: str) -> Any:
            state = states.get(logical_id)
            if state is None:
                raise TemplateError(f"{logical_id} has not been created")
            if name not in state.attrs:
                raise TemplateError(
                    f"Template error: resource {logical_id} does not support attribute type {name} in Fn::GetAtt"
                )
            return state.attrs[name]

        return Scope(
            parameters=plan.values,
            pseudo=self.pseudo(stack),
            conditions=plan.conditions,
            mappings=plan.template.get("Mappings") or {},
            resources=set(plan.active),
            resource_ref=ref,
            resource_attr=attr,
            import_value=lambda name: self._import_value(name, stack),
        )

    def _import_value(self, name: str, importer: Stack) -> str:
        for export in self.exports():
            if export["Name"] == name and export["ExportingStackId"] != importer.stack_id:
                return export["Value"]
        raise TemplateError(f"No export named {name} found.")

    def _check_stop(self) -> None:
        if self.stopping.is_set():
            raise _Stopping()

    def _event(
        self,
        stack: Stack,
        state: ResourceState,
        status: str,
        reason: str = "",
        props: dict[str, Any] | None = None,
    ) -> None:
        with self.lock:
            state.status, state.reason, state.timestamp = status, reason, now()
            stack.add_event(state.logical_id, state.type, state.physical_id, status, reason, props)

    def _resolve_props(
        self, stack: Stack, plan: Prepared, states: dict[str, ResourceState], logical_id: str
    ) -> dict[str, Any]:
        definition = plan.active[logical_id]
        try:
            return (
                resolve(
                    definition.get("Properties", {}),
                    self._scope(stack, plan, states),
                    f"Resource {logical_id}",
                )
                or {}
            )
        except TemplateError as e:
            raise _Failed(logical_id, str(e)) from None

    def _values(self, logical_id: str, type_name: str, props: dict[str, Any]) -> dict[str, Any]:
        """``props`` as the resource's API call gets them: dynamic references replaced by their
        values (the stack keeps and shows the references, as CloudFormation does)."""
        try:
            return dynamic.resolve(props, type_name, self._lookup)
        except TemplateError as e:
            raise _Failed(logical_id, f"Resource {logical_id} ({type_name}): {e}") from None

    def _values_if_any(self, state: ResourceState) -> dict[str, Any]:
        """For a delete: the values where they can still be read, else the references as kept."""
        try:
            return self._values(state.logical_id, state.type, state.props)
        except _Failed:
            return state.props

    def _ssm_value(self, name: str, decrypt: bool) -> tuple[str, str]:
        try:
            found = self._client("ssm").get_parameter(Name=name, WithDecryption=decrypt)["Parameter"]
        except ClientError as e:
            raise dynamic.LookupFailed(error_text(e)) from None
        return found["Type"], found["Value"]

    def _secret_value(self, secret_id: str, stage: str | None, version_id: str | None) -> str:
        args = {"SecretId": secret_id, **({"VersionStage": stage} if stage else {})}
        if version_id:
            args["VersionId"] = version_id
        try:
            found = self._client("secretsmanager").get_secret_value(**args)
        except ClientError as e:
            error, meta = e.response.get("Error", {}), e.response.get("ResponseMetadata", {})
            raise dynamic.LookupFailed(
                f"{error.get('Message')} (Service: AWSSecretsManager; Status Code: {meta.get('HTTPStatusCode')}; "
                f"Error Code: {error.get('Code')}; Request ID: {meta.get('RequestId')})"
            ) from None
        if "SecretString" not in found:
            raise dynamic.LookupFailed(f"Secret {secret_id} has no SecretString (only SecretBinary)")
        return found["SecretString"]

    def _call(self, logical_id: str, type_name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``; any failure becomes ``_Failed`` with a reason naming the resource."""
        if faults.FAULTS.armed("fail-resource"):
            injected = faults.FAULTS.take(
                "fail-resource", stack=args[0].stack_name, logicalId=logical_id, phase=fn.__name__
            )
            if injected is not None:
                raise _Failed(logical_id, f"Resource {logical_id} ({type_name}): {injected.get('message') or 'refused'}")
        try:
            return fn(*args)
        except (ResourceFailed, TemplateError) as e:
            raise _Failed(logical_id, f"Resource {logical_id} ({type_name}): {e}") from None
        except ClientError as e:
            denied = stack_role.denied_reason(e)  # the stack's role may not: CloudFormation's words
            raise _Failed(logical_id, denied or f"Resource {logical_id} ({type_name}): {error_text(e)}") from None
        except (BotoCoreError, KeyError, TypeError, ValueError) as e:
            raise _Failed(
                logical_id, f"Resource {logical_id} ({type_name}): {type(e).__name__}: {e}"
            ) from None

    def _create_resource(
        self,
        stack: Stack,
        plan: Prepared,
        states: dict[str, ResourceState],
        ctx: Context,
        logical_id: str,
        replacing: bool = False,
    ) -> ResourceState:
        definition = plan.active[logical_id]
        type_name = definition["Type"]
        state = ResourceState(
            logical_id, type_name, None, "", deletion_policy=definition.get("DeletionPolicy", "Delete")
        )
        props = self._resolve_props(stack, plan, states, logical_id)
        state.props = props
        if replacing:
            self._event(
                stack,
                state,
                "UPDATE_IN_PROGRESS",
                "Requested update requires the creation of a new physical resource; hence creating one.",
                props,
            )
        else:
            with self.lock:
                stack.resources[logical_id] = state
            self._event(stack, state, "CREATE_IN_PROGRESS", "", props)
        try:
            done: Provisioned = self._call(
                logical_id, type_name, REGISTRY[type_name].create, ctx, logical_id, self._values(logical_id, type_name, props)
            )
        except _Failed as e:
            self._event(stack, state, "UPDATE_FAILED" if replacing else "CREATE_FAILED", e.reason)
            raise
        state.physical_id, state.attrs = done.physical_id, dict(done.attrs)
        with self.lock:
            stack.resources[logical_id] = state
        self._event(stack, state, "UPDATE_COMPLETE" if replacing else "CREATE_COMPLETE")
        return state

    def _delete_resource(self, stack: Stack, ctx: Context, state: ResourceState) -> str | None:
        """Deletes one resource (or keeps it for DeletionPolicy Retain); the failure reason, if any."""
        if state.physical_id is None:
            return None
        if state.deletion_policy in ("Retain", "RetainExceptOnCreate"):
            self._event(stack, state, "DELETE_SKIPPED")
            return None
        self._event(stack, state, "DELETE_IN_PROGRESS")
        try:
            current = Provisioned(state.physical_id, state.attrs)
            self._call(
                state.logical_id, state.type, REGISTRY[state.type].delete, ctx, current, self._values_if_any(state)
            )
        except _Failed as e:
            self._event(stack, state, "DELETE_FAILED", e.reason)
            return e.reason
        self._event(stack, state, "DELETE_COMPLETE")
        return None

    def _outputs(
        self, stack: Stack, plan: Prepared, states: dict[str, ResourceState]
    ) -> list[dict[str, Any]]:
        scope = self._scope(stack, plan, states)
        endpoint = self._endpoint()
        taken = {e["Name"]: e["ExportingStackId"] for e in self.exports()}
        out = []
        for key, output in (plan.template.get("Outputs") or {}).items():
            condition = output.get("Condition")
            if condition is not None and not plan.conditions.get(condition):
                continue
            try:
                value = resolve(output["Value"], scope, f"Output {key}")
                item: dict[str, Any] = {
                    "OutputKey": key,
                    "OutputValue": localize_execute_api_urls(_text(value), endpoint),
                }
                if output.get("Description"):
                    item["Description"] = _text(resolve(output["Description"], scope, f"Output {key}"))
                if output.get("Export"):
                    export = _text(resolve(output["Export"].get("Name"), scope, f"Output {key} Export"))
                    if taken.get(export, stack.stack_id) != stack.stack_id:
                        raise TemplateError(
                            f"Output {key}: Export with name {export} is already exported by stack {taken[export]}"
                        )
                    item["ExportName"] = export
            except TemplateError as e:
                raise _Failed(None, str(e)) from None
            out.append(item)
        return out

    def _finish_change_set(self, change_set: ChangeSet | None, ok: bool) -> None:
        if change_set is not None:
            with self.lock:
                change_set.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"

    def _run_create(
        self, stack: Stack, plan: Prepared | None, error: str | None, change_set: ChangeSet | None
    ) -> None:
        ctx = self._context(stack)
        created: list[ResourceState] = []
        states: dict[str, ResourceState] = {}
        faults.FAULTS.hold(stack.name)  # a test's fault keeps the create in progress for a while
        try:
            if plan is None:
                raise _Failed(None, error or "the template could not be prepared")
            with self.lock:
                stack.plan = plan
                stack.parameters = plan.parameters
            for logical_id in plan.order:
                self._check_stop()
                states[logical_id] = self._create_resource(stack, plan, states, ctx, logical_id)
                created.append(states[logical_id])
            outputs = self._outputs(stack, plan, states)
        except _Failed as failure:
            reason = _failure_reason("create", failure)
            self._finish_change_set(change_set, False)
            if stack.disable_rollback or stack.on_failure == "DO_NOTHING":
                with self.lock:
                    stack.set_status("CREATE_FAILED", reason)
                return
            with self.lock:
                stack.set_status("ROLLBACK_IN_PROGRESS", reason)
            problems = [p for p in (self._delete_resource(stack, ctx, s) for s in reversed(created)) if p]
            with self.lock:
                if problems:
                    stack.set_status("ROLLBACK_FAILED", f"{reason} Rollback failed: {' '.join(problems)}")
                    return
                stack.set_status("ROLLBACK_COMPLETE", reason)
                if stack.on_failure == "DELETE":
                    stack.deleted = now()
                    stack.set_status("DELETE_COMPLETE", reason)
            return
        with self.lock:
            stack.outputs = outputs
            stack.set_status("CREATE_COMPLETE")
        self._finish_change_set(change_set, True)

    def _run_update(
        self, stack: Stack, plan: Prepared | None, error: str | None, change_set: ChangeSet | None
    ) -> None:
        ctx = self._context(stack)
        old_plan = stack.plan
        old_states = dict(stack.resources)
        states: dict[str, ResourceState] = {}
        journal: list[tuple[str, str, ResourceState | None, ResourceState]] = []
        cleanup: dict[str, ResourceState] = {}
        faults.FAULTS.hold(stack.name)  # a test's fault keeps the update in progress for a while
        try:
            if plan is None:
                raise _Failed(None, error or "the template could not be prepared")
            for logical_id in plan.order:
                self._check_stop()
                definition = plan.active[logical_id]
                handler = REGISTRY[definition["Type"]]
                old = old_states.get(logical_id)
                if old is None or old.type != definition["Type"] or old.physical_id is None:
                    states[logical_id] = self._create_resource(stack, plan, states, ctx, logical_id)
                    journal.append(("create", logical_id, old, states[logical_id]))
                    if old is not None:
                        cleanup[logical_id] = old
                    continue
                props = self._resolve_props(stack, plan, states, logical_id)
                policy = definition.get("DeletionPolicy", "Delete")
                if props == old.props:
                    old.deletion_policy = policy
                    states[logical_id] = old
                    continue
                if handler.requires_replacement(old.props, props):
                    states[logical_id] = self._create_resource(
                        stack, plan, states, ctx, logical_id, replacing=True
                    )
                    journal.append(("replace", logical_id, old, states[logical_id]))
                    cleanup[logical_id] = old
                    continue
                new = ResourceState(
                    logical_id, old.type, old.physical_id, old.status, props, dict(old.attrs), policy
                )
                with self.lock:
                    stack.resources[logical_id] = new
                self._event(stack, new, "UPDATE_IN_PROGRESS", "", props)
                try:
                    before, after = self._values(logical_id, new.type, old.props), self._values(logical_id, new.type, props)
                except _Failed as e:  # refused before anything was applied: its rollback has nothing to undo
                    self._event(stack, new, "UPDATE_FAILED", e.reason)
                    journal.append(("untouched", logical_id, old, new))
                    raise
                try:
                    current = Provisioned(old.physical_id, dict(old.attrs))
                    done = self._call(logical_id, new.type, handler.update, ctx, logical_id, current, before, after)
                except _Failed as e:
                    self._event(stack, new, "UPDATE_FAILED", e.reason)
                    journal.append(("update", logical_id, old, new))
                    raise
                new.physical_id, new.attrs = done.physical_id, dict(done.attrs)
                self._event(stack, new, "UPDATE_COMPLETE")
                states[logical_id] = new
                journal.append(("update", logical_id, old, new))
            outputs = self._outputs(stack, plan, states)
        except _Failed as failure:
            recovery.roll_back_update(
                self, stack, ctx, _failure_reason("update", failure), journal, old_states, change_set
            )
            return
        with self.lock:
            stack.set_status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        removed = [old_states[lid] for lid in old_states if lid not in plan.active]
        removed += list(cleanup.values())
        order = {lid: i for i, lid in enumerate(old_plan.order if old_plan else old_states)}
        for state in sorted(removed, key=lambda s: order.get(s.logical_id, -1), reverse=True):
            self._delete_resource(stack, ctx, state)
        with self.lock:
            stack.plan = plan
            stack.parameters = plan.parameters
            stack.resources = {lid: states[lid] for lid in plan.order}
            stack.outputs = outputs
            stack.set_status("UPDATE_COMPLETE")
        self._finish_change_set(change_set, True)

    def _run_delete(self, stack: Stack) -> None:
        ctx = self._context(stack)
        order = list(stack.plan.order) if stack.plan else []
        order += [lid for lid in stack.resources if lid not in order]
        problems = []
        for logical_id in reversed(order):
            self._check_stop()
            state = stack.resources.get(logical_id)
            if state is None or state.status == "DELETE_COMPLETE":
                continue
            problem = self._delete_resource(stack, ctx, state)
            if problem:
                problems.append((logical_id, problem))
        with self.lock:
            if problems:
                names = [lid for lid, _ in problems]
                stack.set_status(
                    "DELETE_FAILED",
                    f"The following resource(s) failed to delete: {names}. {' '.join(p for _, p in problems)}",
                )
                return
            stack.deleted = now()
            stack.set_status("DELETE_COMPLETE")
            self.change_sets = [c for c in self.change_sets if c.stack is not stack]


def _failure_reason(verb: str, failure: _Failed) -> str:
    if failure.logical_id:
        return f"The following resource(s) failed to {verb}: [{failure.logical_id}]. {failure.reason}"
    return failure.reason


def _same(old: Prepared, new: Prepared) -> bool:
    return old.template == new.template and old.parameters == new.parameters


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _parameter_values(parameters: list[dict[str, Any]], previous: dict[str, str] | None) -> dict[str, str]:
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


def _s3_location(url: str) -> tuple[str, str]:
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
