"""One build, run for real: its phases, its commands in a subprocess tree, its log lines.

Phases go as CodeBuild's phase transitions go: SUBMITTED, QUEUED, PROVISIONING, DOWNLOAD_SOURCE,
INSTALL, PRE_BUILD, BUILD, POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING, COMPLETED. A failed INSTALL or
PRE_BUILD goes straight to FINALIZING (unless its ``on-failure`` is CONTINUE); a failed BUILD still
runs POST_BUILD, and UPLOAD_ARTIFACTS is always attempted after BUILD. Each command runs as
``bash -c`` in its own process group, in the directory and with the exported variables the previous
command left (buildspec 0.2: commands share one shell's state), so that StopBuild and the build's
timeout kill the whole tree.
"""

from __future__ import annotations

import fnmatch
import io
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localcloud import faults
from localcloud.codebuild import buildspec as spec
from localcloud.codebuild.build import Build, Ended, PhaseFailed
from localcloud.guard import guarded
from localcloud.lambda_runner import interpreters

log = logging.getLogger("localcloud.codebuild")

# The machine's package-tool settings (an offline mirror, a CA bundle) that pip and npm in commands need.
_PASSED_PREFIXES = ("PIP_", "NPM_CONFIG_", "npm_config_", "UV_")
_PASSED = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
           "https_proxy", "no_proxy", "PYENV_ROOT", "NVM_DIR", "LANG")
_NOT_SAVED = ("SHLVL", "OLDPWD", "PWD", "_", "CODEBUILD_BUILD_SUCCEEDING")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y/%m/%d %H:%M:%S.%f")


@dataclass
class Context:
    """What a run needs from the local cloud."""

    endpoint: str
    region: str
    account: str
    work_dir: Path  # the build's own folder (removed when it ends)
    tools_dir: Path  # shims shared by builds (aws, python/pip per version)
    write_log: Callable[[str, str, list[tuple[int, str]]], None]
    credentials: Callable[[str, str], dict[str, str] | None]  # (role, session) -> env, None: root
    root_env: dict[str, str]
    announce: Callable[[str], bool]  # True the first time a notice is given (said once)


class Run:
    """Runs one build to its end (on a pool thread)."""

    def __init__(self, build: Build, ctx: Context):
        self.build = build
        self.ctx = ctx
        self.plan = build.plan
        self.src = ctx.work_dir / "src"
        self.state = ctx.work_dir / "state"
        self.succeeding = True
        self.spec: spec.Buildspec | None = None
        self.env: dict[str, str] = {}
        self.path_head: list[str] = []
        self.creds: dict[str, str] | None = None

    # ---- logging ----------------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.lines([f"[Container] {_stamp()} {text}"])

    def lines(self, texts: list[str]) -> None:
        if self.plan.logs_group is None or not texts:
            return
        now = int(time.time() * 1000)
        self.ctx.write_log(self.plan.logs_group, self.build.log_stream, [(now, t) for t in texts])

    # ---- the run ----------------------------------------------------------------------------
    def run(self) -> None:
        build = self.build
        try:
            queued = build.phases[-1]
            build.close(queued, "SUCCEEDED")
            if build.ending:
                raise Ended()
            self.steps()
            self.phase("FINALIZING", lambda: None)
            status = "SUCCEEDED" if self.succeeding else "FAILED"
        except Ended:
            status = build.ending or "STOPPED"
        except Exception as e:  # the local cloud's own fault: FAULT, as CodeBuild's internal errors
            log.exception("build %s faulted", build.id)
            self.say(f"Phase context status code: INTERNAL_ERROR Message: {e}")
            status = "FAULT"
        with build.lock:
            if build.ending and status in ("SUCCEEDED", "FAILED"):
                status = build.ending
            completed = build.enter("COMPLETED")
            completed.pop("endTime", None)
            build.status = status
            build.end = datetime.now(UTC)
            build.process = None
        build.done.set()
        shutil.rmtree(self.ctx.work_dir, ignore_errors=True)

    def steps(self) -> None:
        """PROVISIONING to UPLOAD_ARTIFACTS, as CodeBuild's phase transitions go."""
        if not self.phase("PROVISIONING", self.provision) or not self.phase("DOWNLOAD_SOURCE", self.download_source):
            self.succeeding = False
            return
        for name in spec.PHASES:
            if self.phase(name.upper(), lambda n=name: self.run_phase(n)):
                continue
            self.succeeding = False
            assert self.spec is not None
            aborts = name not in self.spec.phases or self.spec.phases[name].on_failure == "ABORT"
            if aborts and name in ("install", "pre_build"):
                return  # straight to FINALIZING
        if not self.phase("UPLOAD_ARTIFACTS", self.upload_artifacts):
            self.succeeding = False

    def phase(self, name: str, body: Callable[[], None]) -> bool:
        """Run one phase; True when it succeeded. Raises Ended when the build was stopped/timed out."""
        build = self.build
        if build.ending:
            raise Ended()
        record = build.enter(name)
        if name in ("INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD"):
            self.say(f"Entering phase {name}")
        if name == "BUILD":  # a test's fault keeps the build in this phase for a while
            faults.FAULTS.hold_build(self.plan.project_name, lambda: build.ending is not None)
        try:
            body()
        except Ended:
            how = build.ending or "STOPPED"
            code, message = ("BUILD_TIMED_OUT", "Build has timed out. ") if how == "TIMED_OUT" else ("", "")
            build.close(record, how, code, message)
            self.say(f"Phase complete: {name} State: {how}")
            self.say(f"Phase context status code: {code} Message: {message}")
            raise
        except PhaseFailed as e:
            build.close(record, "FAILED", e.code, e.message)
            self.say(f"Phase complete: {name} State: FAILED")
            self.say(f"Phase context status code: {e.code} Message: {e.message}")
            return False
        if build.ending:  # the last command was killed and happened to exit 0
            self.phase_ended(record, name)
        build.close(record, "SUCCEEDED")
        self.say(f"Phase complete: {name} State: SUCCEEDED")
        self.say("Phase context status code:  Message: ")
        return True

    def phase_ended(self, record: dict[str, Any], name: str) -> None:
        how = self.build.ending or "STOPPED"
        self.build.close(record, how)
        self.say(f"Phase complete: {name} State: {how}")
        raise Ended()

    # ---- PROVISIONING -------------------------------------------------------------------------
    def provision(self) -> None:
        self.say("Waiting for agent ping")
        self.src.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)
        (self.state / "cwd").write_text(str(self.src))
        try:
            self.creds = self.ctx.credentials(self.plan.service_role, f"AWSCodeBuild-{self.build.uuid}")
        except PhaseFailed:
            raise
        except Exception as e:
            raise PhaseFailed("CLIENT_ERROR", str(e)) from None

    def client(self, service: str) -> Any:
        creds = self.creds or {"AWS_ACCESS_KEY_ID": self.ctx.root_env["AWS_ACCESS_KEY_ID"],
                               "AWS_SECRET_ACCESS_KEY": self.ctx.root_env["AWS_SECRET_ACCESS_KEY"]}
        return boto3.session.Session().client(
            service,
            endpoint_url=self.ctx.endpoint,
            region_name=self.ctx.region,
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=creds.get("AWS_SESSION_TOKEN"),
            config=Config(retries={"max_attempts": 2}),
        )

    # ---- DOWNLOAD_SOURCE ----------------------------------------------------------------------
    def download_source(self) -> None:
        self.say("Waiting for DOWNLOAD_SOURCE")
        kind = self.plan.source_type
        if kind == "S3":
            bucket, _, key = self.plan.source_location.partition("/")
            if not bucket or not key or key.endswith("/"):
                raise PhaseFailed(
                    "CLIENT_ERROR",
                    f"localcloud reads an S3 source as one .zip object ('<bucket>/<key>.zip'), got "
                    f"'{self.plan.source_location}' for primary source and source version",
                )
            try:
                body = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as e:
                err = e.response.get("Error", {})
                raise PhaseFailed(
                    "CLIENT_ERROR",
                    f"{err.get('Code')}: {err.get('Message')} for primary source and source version "
                    f"arn:aws:s3:::{bucket}/{key}",
                ) from None
            try:
                with zipfile.ZipFile(io.BytesIO(body)) as zf:
                    _extract(zf, self.src)
            except zipfile.BadZipFile:
                raise PhaseFailed(
                    "CLIENT_ERROR", f"zip: not a valid zip file for primary source arn:aws:s3:::{bucket}/{key}"
                ) from None
        elif kind != "NO_SOURCE":
            raise PhaseFailed("CLIENT_ERROR", f"source type {kind} is not supported by localcloud (NO_SOURCE, S3)")
        self.say(f"CODEBUILD_SRC_DIR={self.src}")
        text = self.plan.buildspec
        if not text or not spec.looks_inline(text):
            path = self.src / (text or "buildspec.yml")
            if not path.is_file():
                raise PhaseFailed("YAML_FILE_ERROR", f"YAML file does not exist: {text or 'buildspec.yml'}")
            self.say(f"YAML location is {path}")
            text = path.read_text()
        try:
            self.spec = spec.parse(text)
        except spec.BuildspecError as e:
            raise PhaseFailed("YAML_FILE_ERROR", str(e)) from None
        self.say("Processing environment variables")
        self.env = self.environment()
        self.say(f"Moving to directory {self.src}")

    def environment(self) -> dict[str, str]:
        assert self.spec is not None
        build, ctx = self.build, self.ctx
        env = {k: v for k, v in os.environ.items() if k.startswith(_PASSED_PREFIXES) or k in _PASSED}
        env.setdefault("LANG", "C.UTF-8")
        env["HOME"] = str(Path.home())
        # buildspec < project < StartBuild override (AWS's precedence)
        env.update(self.spec.variables)
        for name, parameter in self.spec.parameter_store.items():
            env[name] = self.parameter(parameter)
        for var in self.plan.env_vars:
            kind = (var.get("type") or "PLAINTEXT").upper()
            value = str(var.get("value", ""))
            if kind == "PARAMETER_STORE":
                value = self.parameter(value)
            elif kind != "PLAINTEXT":
                raise PhaseFailed(
                    "CLIENT_ERROR",
                    f"environment variable {var.get('name')} of type {kind} is not supported by localcloud "
                    "(PLAINTEXT, PARAMETER_STORE)",
                )
            env[str(var["name"])] = value
        env.update(
            {
                "CODEBUILD_SRC_DIR": str(self.src),
                "CODEBUILD_BUILD_ID": build.id,
                "CODEBUILD_BUILD_ARN": build.arn,
                "CODEBUILD_BUILD_NUMBER": str(build.number),
                "CODEBUILD_INITIATOR": self.plan.initiator,
                "CODEBUILD_BUILD_IMAGE": str(self.plan.environment.get("image", "")),
                "CODEBUILD_START_TIME": str(int(build.start.timestamp() * 1000)),
                "CODEBUILD_LOG_PATH": build.uuid,
                "CODEBUILD_KMS_KEY_ID": self.plan.encryption_key or f"arn:aws:kms:{ctx.region}:{ctx.account}:alias/aws/s3",
                "AWS_REGION": ctx.region,
                "AWS_DEFAULT_REGION": ctx.region,
                "AWS_ENDPOINT_URL": ctx.endpoint,
            }
        )
        if self.plan.source_version:
            env["CODEBUILD_SOURCE_VERSION"] = self.plan.source_version
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(key, None)
        env.update(self.creds if self.creds is not None else ctx.root_env)
        env["PATH"] = os.pathsep.join([str(ctx.tools_dir / "bin"), *_machine_path()])
        return env

    def parameter(self, name: str) -> str:
        try:
            return str(self.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        except ClientError as e:
            err = e.response.get("Error", {})
            raise PhaseFailed(
                "CLIENT_ERROR", f"Parameter Store parameter {name}: {err.get('Code')}: {err.get('Message')}"
            ) from None

    # ---- INSTALL ... POST_BUILD ----------------------------------------------------------------
    def run_phase(self, name: str) -> None:
        assert self.spec is not None
        phase = self.spec.phases.get(name)
        if phase is None:
            return
        if name == "install" and phase.runtime_versions:
            self.runtimes(phase.runtime_versions)
        failure: PhaseFailed | None = None
        for command in phase.commands:
            rc = self.command(command)
            if rc != 0:
                self.say(f"Command did not exit successfully {command} exit status {rc}")
                failure = PhaseFailed(
                    "COMMAND_EXECUTION_ERROR", f"Error while executing command: {command}. Reason: exit status {rc}"
                )
                break
        for command in phase.finally_:
            rc = self.command(command)
            if rc != 0 and failure is None:
                self.say(f"Command did not exit successfully {command} exit status {rc}")
                failure = PhaseFailed(
                    "COMMAND_EXECUTION_ERROR", f"Error while executing command: {command}. Reason: exit status {rc}"
                )
        if failure is not None:
            raise failure

    def runtimes(self, wanted: dict[str, str]) -> None:
        heads: list[str] = []
        for runtime, version in wanted.items():
            self.say(f"Running command echo \"Installing {runtime} version {version} ...\"")
            if runtime == "python":
                interpreter = interpreters.python_for(f"python{version}")
                heads.append(str(_python_shims(self.ctx.tools_dir, interpreter.executable)))
            elif runtime == "nodejs":
                major = version.split(".")[0]
                node = interpreters.node_for(f"nodejs{major}.x") if major.isdigit() else None
                if node is None:
                    raise PhaseFailed(
                        "YAML_FILE_ERROR",
                        f"Unknown runtime version named '{version}' of nodejs. localcloud found no `node` on this "
                        "machine (PATH, nvm)",
                    )
                interpreter = node
                heads.append(str(Path(node.executable).parent))
            else:
                raise PhaseFailed(
                    "YAML_FILE_ERROR", f"Unknown runtime named '{runtime}' (localcloud provides python and nodejs)"
                )
            notice = interpreter.notice
            if notice is not None:
                notice = f"localcloud: runtime-versions {runtime}: {version} {notice.split(', ', 1)[-1]}"
                if self.ctx.announce(notice):
                    log.warning("%s", notice)
                self.say(notice)
        self.path_head = heads + self.path_head
        self.env["PATH"] = os.pathsep.join([*self.path_head, self.env["PATH"]])
        self.say("Running command export PATH")

    def command(self, command: str) -> int:
        build = self.build
        if build.ending:
            raise Ended()
        self.say(f"Running command {command}")
        state = self.state
        script = "\n".join(
            [
                f'__cb_state={_quote(str(state))}',
                'if [ -f "$__cb_state/env" ]; then . "$__cb_state/env"; fi',
                f"export CODEBUILD_BUILD_SUCCEEDING={1 if self.succeeding else 0}",
                'cd "$(cat "$__cb_state/cwd")" || exit 1',
                "__cb_save() { __cb_rc=$?; export -p | grep -Ev '^declare -x ("
                + "|".join(_NOT_SAVED)
                + ")(=|$)' > \"$__cb_state/env.tmp\"; mv \"$__cb_state/env.tmp\" \"$__cb_state/env\"; "
                'pwd > "$__cb_state/cwd"; exit $__cb_rc; }',
                "trap __cb_save EXIT",
                command,
            ]
        )
        with build.lock:
            if build.ending:
                raise Ended()
            process = subprocess.Popen(
                # dies with the local cloud, however it dies; what it leaves running, with the build
                guarded(["bash", "-c", script], linger_while=str(self.ctx.work_dir)),
                cwd=str(self.src),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            build.process = process
        assert process.stdout is not None
        pending: list[str] = []
        last = time.monotonic()
        for raw in process.stdout:
            pending.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
            if time.monotonic() - last > 0.1 or len(pending) >= 200:
                self.lines(pending)
                pending, last = [], time.monotonic()
        self.lines(pending)
        rc = process.wait()
        with build.lock:
            build.process = None
        if build.ending:
            raise Ended()
        return rc

    # ---- UPLOAD_ARTIFACTS ---------------------------------------------------------------------
    def upload_artifacts(self) -> None:
        artifacts = self.plan.artifacts
        kind = (artifacts.get("type") or "NO_ARTIFACTS").upper()
        if kind == "NO_ARTIFACTS" or self.spec is None or self.spec.artifacts is None:
            return
        if kind != "S3":
            raise PhaseFailed("CLIENT_ERROR", f"artifacts type {kind} is not supported by localcloud (NO_ARTIFACTS, S3)")
        wanted = self.spec.artifacts
        self.say("Expanding base directory path: " + (wanted.base_directory or "."))
        base = self.src / wanted.base_directory if wanted.base_directory else self.src
        self.say("Assembling file list")
        if not base.is_dir():
            self.say(f"Skipping invalid file path {wanted.base_directory}")
            raise PhaseFailed("CLIENT_ERROR", f"no matching base directory path found for {wanted.base_directory}")
        files = _matching(base, wanted.files, wanted.exclude_paths)
        if not files:
            raise PhaseFailed("CLIENT_ERROR", "no matching artifact paths found")
        bucket = str(artifacts.get("location") or "")
        path = str(artifacts.get("path") or "").strip("/")
        name = str(artifacts.get("name") or wanted.name or self.plan.project_name)
        if wanted.name and artifacts.get("overrideArtifactName"):
            name = wanted.name
        parts = [p for p in (path, self.build.uuid if (artifacts.get("namespaceType") or "NONE").upper() == "BUILD_ID" else "", name) if p and p != "/"]
        key = "/".join(parts)
        s3 = self.client("s3")
        packaging = (artifacts.get("packaging") or "NONE").upper()
        try:
            if packaging == "ZIP":
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                    for file in files:
                        arcname = file.name if wanted.discard_paths else file.relative_to(base).as_posix()
                        zf.write(file, arcname)
                s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
            else:
                for file in files:
                    rel = file.name if wanted.discard_paths else file.relative_to(base).as_posix()
                    s3.put_object(Bucket=bucket, Key=f"{key}/{rel}" if key else rel, Body=file.read_bytes())
        except ClientError as e:
            err = e.response.get("Error", {})
            raise PhaseFailed("CLIENT_ERROR", f"{err.get('Code')}: {err.get('Message')}") from None
        except BotoCoreError as e:
            raise PhaseFailed("CLIENT_ERROR", str(e)) from None
        self.build.artifact_location = f"arn:aws:s3:::{bucket}/{key}"
        self.say(f"Uploading {len(files)} file(s) to arn:aws:s3:::{bucket}/{key}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _extract(zf: zipfile.ZipFile, target: Path) -> None:
    root = target.resolve()
    for info in zf.infolist():
        dest = (target / info.filename).resolve()
        if root not in dest.parents and dest != root:
            raise PhaseFailed("CLIENT_ERROR", f"zip entry {info.filename} leaves the source directory")
        zf.extract(info, target)
        mode = info.external_attr >> 16
        if mode and not info.is_dir():
            os.chmod(dest, mode & 0o777 or 0o644)


def _matching(base: Path, patterns: list[str], excludes: list[str]) -> list[Path]:
    found: dict[Path, None] = {}
    for pattern in patterns:
        pattern = pattern.strip().lstrip("./") if pattern.strip().startswith("./") else pattern.strip()
        if pattern in ("", "."):
            pattern = "**/*"
        for path in sorted(base.glob(pattern)):
            candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for candidate in candidates:
                rel = candidate.relative_to(base).as_posix()
                if any(fnmatch.fnmatch(rel, ex) for ex in excludes):
                    continue
                found[candidate] = None
    return list(found)


def _machine_path() -> list[str]:
    """This machine's PATH without the local cloud's own virtualenv (its packages are not the build's)."""
    venv_bin = str(Path(sys.prefix) / "bin")
    return [p for p in os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep)
            if p and p != venv_bin]


def _python_shims(tools: Path, executable: str) -> Path:
    """A folder whose python, python3, pip and pip3 run ``executable`` (pip as ``-m pip``)."""
    folder = tools / "python" / executable.strip("/").replace("/", "_")
    if (folder / "pip").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, tail in (("python", ""), ("python3", ""), ("pip", " -m pip"), ("pip3", " -m pip")):
        shim = folder / name
        shim.write_text(f'#!/bin/sh\nexec {_quote(executable)}{tail} "$@"\n')
        shim.chmod(0o755)
    return folder


def tools_bin(tools: Path) -> None:
    """The commands a CodeBuild image has that this machine may have only in the local cloud's
    virtualenv: the AWS CLI (it reaches the local cloud through AWS_ENDPOINT_URL)."""
    folder = tools / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    venv_aws = Path(sys.prefix) / "bin" / "aws"
    if venv_aws.exists() and not shutil.which("aws", path=os.pathsep.join(_machine_path())):
        shim = folder / "aws"
        shim.write_text(f'#!/bin/sh\nexec {_quote(sys.executable)} {_quote(str(venv_aws))} "$@"\n')
        shim.chmod(0o755)
