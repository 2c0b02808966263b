"""codebuild: CodeBuild builds run for real.

moto keeps CodeBuild's state (projects, the build ids of each project) and fakes every build's
phases; this component hooks where moto starts, describes and stops builds, so that a build runs
its buildspec (version 0.2) in a subprocess tree on this machine (build.py), with its source
downloaded from S3 and its artifacts uploaded to S3 with the service role's permissions, its log
lines written to CloudWatch Logs as they come (``/aws/codebuild/<project>``, stream = the build id's
part after the colon), and its status, phases and contexts as BatchGetBuilds gives them on AWS.

- Builds run on a small pool (``MAX_CONCURRENT_BUILDS``), never on the request thread; StopBuild
  and the build's timeout kill the command tree; stopping the local cloud stops every build.
- With IAM enforced, the service role (its trust policy must admit ``codebuild.amazonaws.com``,
  checked at CreateProject) gives the build its temporary credentials (session
  ``AWSCodeBuild-<build uuid>``): S3 source reads, artifact writes, Parameter Store reads and the
  commands' own AWS calls are held to its policies. Without enforcement they use the root key.
- UpdateProject, which moto lacks, is served here.
- Step Functions' optimized integration (``arn:aws:states:::codebuild:startBuild[.sync]``,
  ``stopBuild``, ``batchGetBuilds``): see stepfunctions_task.py.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from localcloud import iam
from localcloud.codebuild.build import Build, PhaseFailed, Plan
from localcloud.codebuild.runner import Context, Run, tools_bin
from localcloud.iam import actions
from localcloud.moto_hooks import hook, require
from localcloud.telemetry import TelemetryWriter

log = logging.getLogger("localcloud.codebuild")

MAX_CONCURRENT_BUILDS = 4
STOP_WAIT_S = 5.0  # how long StopBuild waits for the build to settle as STOPPED
_RESPONSES = "moto.codebuild.responses"
_MODELS = "moto.codebuild.models"


class Builds:
    """Service: the builds of this cloud, the pool that runs them, their log writer."""

    def __init__(self, cloud: Any):
        self.cloud = cloud
        self.logs = TelemetryWriter(cloud.client, "codebuild")
        self._pool: ThreadPoolExecutor | None = None
        self._builds: dict[str, Build] = {}
        self._numbers: dict[str, int] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()
        self._notices: set[str] = set()
        self._stopping = False

    def start(self) -> None:
        self.logs.start()
        self._pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_BUILDS, thread_name_prefix="codebuild")
        tools_bin(self.cloud.path("codebuild", "tools"))

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            builds = list(self._builds.values())
            timers = list(self._timers.values())
        for timer in timers:
            timer.cancel()
        for build in builds:
            build.cancel("STOPPED")
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        for build in builds:
            build.done.wait(timeout=2)
        self.logs.stop()

    # ---- persistence (localcloud.persistence): the builds and their numbers are kept ------------
    def state(self) -> tuple[dict[str, Build], dict[str, int]]:
        with self._lock:
            return dict(self._builds), dict(self._numbers)

    def load_state(self, state: tuple[dict[str, Build], dict[str, int]]) -> None:
        with self._lock:
            self._builds, self._numbers = dict(state[0]), dict(state[1])

    def end_interrupted(self) -> int:
        """After a restart: builds that were running end STOPPED (their commands died with the
        cloud); how many."""
        with self._lock:
            builds = list(self._builds.values())
        ended = 0
        for build in builds:
            if build.interrupted():
                ended += 1
        return ended

    def next_number(self, project: str) -> int:
        with self._lock:
            self._numbers[project] = self._numbers.get(project, 0) + 1
            return self._numbers[project]

    def get(self, id_or_arn: str) -> Build | None:
        build_id = id_or_arn.split(":build/", 1)[1] if ":build/" in id_or_arn else id_or_arn
        with self._lock:
            return self._builds.get(build_id)

    def submit(self, build: Build) -> None:
        with self._lock:
            self._builds[build.id] = build
        build.close(build.enter("SUBMITTED"), "SUCCEEDED")
        build.enter("QUEUED")
        if self._stopping or self._pool is None:
            build.cancel("STOPPED")
            return
        timer = threading.Timer(build.plan.timeout_minutes * 60, build.cancel, args=("TIMED_OUT",))
        timer.daemon = True
        with self._lock:
            self._timers[build.id] = timer
        timer.start()
        self._pool.submit(self._run, build)

    def _run(self, build: Build) -> None:
        cloud = self.cloud
        ctx = Context(
            endpoint=cloud.endpoint,
            region=cloud.region,
            account=cloud.account_id,
            work_dir=cloud.path("codebuild", "builds", build.uuid),
            tools_dir=cloud.path("codebuild", "tools"),
            write_log=self.logs.log,
            credentials=_role_credentials,
            root_env=_root_env(),
            announce=self._announce,
        )
        try:
            Run(build, ctx).run()
        finally:
            with self._lock:
                timer = self._timers.pop(build.id, None)
            if timer is not None:
                timer.cancel()
            build.done.set()

    def _announce(self, notice: str) -> bool:
        with self._lock:
            if notice in self._notices:
                return False
            self._notices.add(notice)
            return True


def _root_env() -> dict[str, str]:
    from localcloud.cloud import ROOT_ACCESS_KEY, ROOT_SECRET_KEY

    return {"AWS_ACCESS_KEY_ID": ROOT_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": ROOT_SECRET_KEY}


def _role_credentials(role_arn: str, session: str) -> dict[str, str] | None:
    """With IAM enforced, the service role's temporary credentials; None (the root key) without."""
    if not iam.enforcing():
        return None
    try:
        return iam.credentials(role_arn, session, "codebuild.amazonaws.com").env()
    except iam.RoleNotAssumable as e:
        raise PhaseFailed("CLIENT_ERROR", f"CodeBuild is not authorized to perform: sts:AssumeRole on {role_arn} ({e})") from None


_running: Builds | None = None


def builds() -> Builds:
    if _running is None:
        raise RuntimeError("localcloud.codebuild is not installed")
    return _running


def install(cloud: Any) -> None:
    global _running
    service = Builds(cloud)
    _running = service
    cloud.add_service(service)
    cloud.persistence.register("codebuild", service.state, service.load_state)
    backends = require(_MODELS, "codebuild_backends", "projects (codebuild_projects[name].project_metadata) and build ids")
    require(_MODELS, "CodeBuild", "a project's .project_metadata (the API shape) and .service_role")
    invalid_input = require("moto.codebuild.exceptions", "InvalidInputException", "CodeBuild's InvalidInputException")
    action_result = require("moto.core.responses", "ActionResult", "what a moto response method returns (.result)")

    @hook(_RESPONSES, "_validate_required_params_source", "a NO_SOURCE project has no location, as on AWS")
    def validate_source(original: Any, source: dict[str, Any]) -> None:
        if isinstance(source, dict) and source.get("type") == "NO_SOURCE":
            return
        original(source)

    @hook(_RESPONSES, "CodeBuildResponse.create_project", "the service role must trust codebuild.amazonaws.com")
    def create_project(original: Any, response: Any) -> Any:
        role = response._get_param("serviceRole")
        if iam.enforcing() and isinstance(role, str) and role.startswith("arn:"):
            try:
                iam.credentials(role, "validation", "codebuild.amazonaws.com")
            except iam.RoleNotAssumable:
                raise invalid_input(f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}") from None
        return original(response)

    @hook(_RESPONSES, "CodeBuildResponse.start_build", "StartBuild runs the buildspec for real (build.py)")
    def start_build(original: Any, response: Any) -> Any:
        answer = original(response)  # validates, and records the id in the project's history
        moto_build = answer.result["build"]
        backend = backends[response.current_account][response.region]
        project = backend.codebuild_projects[moto_build["projectName"]]
        build = Build(
            id=moto_build["id"],
            arn=moto_build["arn"],
            number=service.next_number(moto_build["projectName"]),
            plan=_plan(response, project, _initiator(response)),
        )
        service.submit(build)
        snapshot = build.snapshot(cloud.region, cloud.account_id)
        moto_build.clear()
        moto_build.update(snapshot)  # what moto's history holds is this build, not its fake
        return action_result({"build": snapshot})

    @hook(_MODELS, "CodeBuildBackend.batch_get_builds", "builds as they run, not moto's fake phases")
    def batch_get_builds(original: Any, backend: Any, ids: list[str]) -> list[dict[str, Any]]:
        out = []
        for build_id in ids:
            build = service.get(build_id)
            if build is not None:
                out.append(build.snapshot(backend.region_name, backend.account_id))
        return out

    @hook(_MODELS, "CodeBuildBackend.stop_build", "StopBuild kills the build's command tree (STOPPED)")
    def stop_build(original: Any, backend: Any, build_id: str) -> dict[str, Any] | None:
        build = service.get(build_id)
        if build is None:
            return original(backend, build_id)
        if build.cancel("STOPPED"):
            build.done.wait(STOP_WAIT_S)
        return build.snapshot(backend.region_name, backend.account_id)

    @hook(_RESPONSES, "CodeBuildResponse.list_builds_for_project", "newest first unless sortOrder is ASCENDING")
    def list_builds_for_project(original: Any, response: Any) -> Any:
        answer = original(response)
        ids = list(answer.result["ids"])
        if str(response._get_param("sortOrder") or "DESCENDING").upper() != "ASCENDING":
            ids.reverse()
        return action_result({"ids": ids})

    def update_project_app(environ: dict, start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0) or -1)
        params = actions.json_params(body)
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        status, answer = _update_project(cloud, backends, params, headers, environ.get("QUERY_STRING", ""))
        payload = json.dumps(answer, default=str).encode()
        start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))])
        return [payload]

    def chooser(environ: dict) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET") == "CodeBuild_20161006.UpdateProject":
            return update_project_app
        return None

    cloud.intercept(chooser)

    from localcloud.codebuild import stepfunctions_task

    stepfunctions_task.install(service)


def _initiator(response: Any) -> str:
    arn = iam.caller_arn(response.headers, parse_qs_string(response))
    if not arn:
        return "root"
    if ":assumed-role/" in arn:
        return arn.split(":assumed-role/", 1)[1]
    return arn.rsplit("/", 1)[-1]


def parse_qs_string(response: Any) -> str:
    uri = getattr(response, "uri", "") or ""
    return uri.split("?", 1)[1] if "?" in uri else ""


def _plan(response: Any, project: Any, initiator: str) -> Plan:
    meta = project.project_metadata
    name = meta["name"]
    source = dict(meta.get("source") or {})
    param = response._get_param
    source_type = str(param("sourceTypeOverride") or source.get("type") or "NO_SOURCE")
    source_location = str(param("sourceLocationOverride") or (source.get("location") if not param("sourceTypeOverride") else "") or "")
    buildspec = param("buildspecOverride")
    if buildspec is None:
        buildspec = source.get("buildspec") or ""
    environment = json.loads(json.dumps(meta.get("environment") or {}))
    env_vars = list(environment.get("environmentVariables") or [])
    overrides = param("environmentVariablesOverride") or []
    by_name = {v["name"]: v for v in env_vars}
    for var in overrides:
        by_name[var["name"]] = var
    environment["environmentVariables"] = list(by_name.values())
    for key, override in (("image", "imageOverride"), ("computeType", "computeTypeOverride"), ("type", "environmentTypeOverride")):
        if param(override):
            environment[key] = param(override)
    artifacts = dict(param("artifactsOverride") or meta.get("artifacts") or {"type": "NO_ARTIFACTS"})
    logs_config = dict(param("logsConfigOverride") or meta.get("logsConfig") or {})
    cw = dict(logs_config.get("cloudWatchLogs") or {})
    enabled = str(cw.get("status") or "ENABLED").upper() == "ENABLED"
    timeout = int(param("timeoutInMinutesOverride") or meta.get("timeoutInMinutes") or 60)
    role = str(param("serviceRoleOverride") or meta.get("serviceRole") or project.service_role)
    return Plan(
        project_name=name,
        project_arn=meta["arn"],
        service_role=role,
        source_type=source_type,
        source_location=source_location,
        buildspec=str(buildspec),
        environment=environment,
        env_vars=list(by_name.values()),
        artifacts=artifacts,
        timeout_minutes=timeout,
        queued_timeout_minutes=int(param("queuedTimeoutInMinutesOverride") or meta.get("queuedTimeoutInMinutes") or 480),
        logs_group=(cw.get("groupName") or f"/aws/codebuild/{name}") if enabled else None,
        logs_stream_prefix=cw.get("streamName") if enabled else None,
        initiator=initiator,
        source_version=param("sourceVersion"),
        encryption_key=meta.get("encryptionKey"),
    )


_UPDATABLE = {"description", "source", "artifacts", "environment", "serviceRole", "timeoutInMinutes",
              "queuedTimeoutInMinutes", "tags", "logsConfig", "cache", "sourceVersion", "vpcConfig"}


def _update_project(cloud: Any, backends: Any, params: dict, headers: dict, query: str) -> tuple[str, dict]:
    name = str(params.get("name") or "")
    call = actions.Call("codebuild", "UpdateProject", params, cloud.region, cloud.account_id)
    try:
        iam.authorize_request(headers, query, call)
    except iam.Denied as denied:
        return "400 Bad Request", {"__type": "AccessDeniedException", "message": denied.message}
    backend = backends[cloud.account_id][cloud.region]
    project = backend.codebuild_projects.get(name)
    if project is None:
        for candidate in backend.codebuild_projects.values():
            if candidate.arn == name:
                project = candidate
    if project is None:
        return "400 Bad Request", {"__type": "ResourceNotFoundException", "message": f"Project cannot be found: arn:aws:codebuild:{cloud.region}:{cloud.account_id}:project/{name}"}
    unknown = sorted(set(params) - _UPDATABLE - {"name"})
    if unknown:
        return "400 Bad Request", {"__type": "InvalidInputException", "message": f"localcloud does not update {', '.join(unknown)}"}
    role = params.get("serviceRole")
    if role and iam.enforcing():
        try:
            iam.credentials(role, "validation", "codebuild.amazonaws.com")
        except iam.RoleNotAssumable:
            return "400 Bad Request", {"__type": "InvalidInputException", "message": f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}"}
    import time

    meta = project.project_metadata
    for key in _UPDATABLE:
        if key in params:
            meta[key] = params[key]
    if role:
        project.service_role = role
    project.tags = meta.get("tags")
    meta["lastModifiedDate"] = time.time()
    return "200 OK", {"project": meta}

