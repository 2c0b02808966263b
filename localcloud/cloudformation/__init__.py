"""CloudFormation on the local cloud, for SAM templates and plain CloudFormation templates.

moto parses and serializes CloudFormation's query API, but every stack and change-set action
(see api.py) is answered by our provisioner instead of moto's CloudFormation backend: stacks are
kept here (in memory, thread-safe), and resources are made through the ordinary AWS APIs of the
local endpoint, so moto holds their state like any other client's. The stacks and change sets are
kept across restarts in the local cloud's snapshot (localcloud.persistence; restart.py settles a stack
a stopped cloud left in progress).

Pipeline (prepare.py, in the API call): parse JSON/YAML (short tags too) -> parameters (defaults,
overrides, AllowedValues, NoEcho, ...) -> for ``Transform: AWS::Serverless-2016-10-31``, package
local artifacts and translate with SAM's own translator (sam.py) -> conditions -> check every
resource against the explicit per-type table of supported properties (resources/) -> dependency
order. What CloudFormation refuses in the call itself is refused there too, as a ``ValidationError``
(prepare.InvalidTemplate: malformed templates, parameter values, and for templates without a
transform unknown types and dangling references). Then on a background thread (provision.py):
create / update / delete resource by resource, with stack events, rollbacks, outputs (execute-api URLs localized to the local gateway) and
exports. Change sets (changesets.py, diff.py) compare the processed templates by logical id.

Modules by job: engine.py puts the provisioner together and answers the stack operations;
store.py keeps stacks and change sets; sources.py reads templates and uploads local code;
dynamic.py resolves dynamic references; changesets.py makes and executes change sets;
steps.py (one resource at a time) and provision.py (a whole operation) provision; recovery.py
rolls a failed update back; api.py maps CloudFormation's actions onto them.

Where local code comes from (``sam package`` done here). A template arrives as a body, so local
paths in ``CodeUri`` / ``ContentUri`` / ``DefinitionUri`` (and ``Code``/``Content``/``Body
S3Location``/``DefinitionS3Location`` given as a path) are resolved as follows:

- an absolute path is used as is;
- a relative path is relative to the stack's base directory, which is the folder of the template
  when the stack is created with ``TemplateURL=file:///abs/path/template.yaml`` (the template is
  read from that file), or else the value of the stack tag ``localcloud:template-dir``;
- ``s3://bucket/key`` is used as is (the object must be in the local S3).

Folders are zipped deterministically and uploaded, keyed by content hash, to the bucket
``localcloud-artifacts-{account}-{region}``; identical code gives an identical template, so an
update leaves that function alone. A relative path without a base directory, or a missing path,
fails the stack with a reason naming the resource and the path.

AutoPublishAlias: SAM's own semantics, as on AWS: a new version is published when the code
changes, or also when the configuration changes if the template sets
``AutoPublishAliasAllProperties: true`` (Sprout's packaging sets it on the apps it deploys).

API bodies: a RestApi's Body is imported into moto through the API Gateway API (resources,
methods with their authorization type, integrations with their uri); the resolved body is also
kept at ``{data_dir}/cloudformation/apis/{restApiId}.json`` (see ``rest_api_definition``).

Dynamic references (``{{resolve:ssm:...}}``, ``ssm-secure``, ``secretsmanager``; dynamic.py) are
read from the local Parameter Store and Secrets Manager only for the resource's API call; the stack
keeps the reference text, as CloudFormation does.

Public: ``install(cloud)``; ``rest_api_definition(api_id)``; ``engine()`` (the running provisioner).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

_ENGINE = None
_DATA_DIR: Path | None = None


def _import_translator() -> None:
    import samtranslator.translator.translator  # noqa: F401


class _Service:
    def __init__(self, engine: Any):
        self.engine = engine

    def start(self) -> None:
        self.engine.stopping.clear()
        # SAM's translator takes a second or more to import: do it now, not in the first create-stack
        threading.Thread(target=_import_translator, name="cfn-warmup", daemon=True).start()

    def stop(self) -> None:
        self.engine.stopping.set()


def install(cloud) -> None:
    global _ENGINE, _DATA_DIR
    from moto.core.config import default_user_config

    from . import moto_patches, sam
    from .api import install_hooks
    from .engine import Engine

    # Roles attach AWS managed policies (arn:aws:iam::aws:policy/...); moto knows them only when
    # told to load them (public moto configuration, read when the IAM backend is created).
    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
    _DATA_DIR = cloud.data_dir
    sam.BUILD_ROOT = cloud.path("cloudformation", "build")
    _ENGINE = Engine(
        client_factory=cloud.client,
        region=cloud.region,
        account_id=cloud.account_id,
        endpoint=lambda: cloud.endpoint,
        data_dir=cloud.data_dir,
    )
    install_hooks(_ENGINE)
    moto_patches.install()
    cloud.add_service(_Service(_ENGINE))
    cloud.persistence.register("cloudformation", _engine_state, _load_engine_state)


def _engine_state() -> tuple[Any, Any]:
    """The stacks (with their resources, events, outputs) and change sets, kept across restarts."""
    store = _ENGINE.store
    with store.lock:
        return list(store.stacks), list(store.change_sets)


def _load_engine_state(state: tuple[Any, Any]) -> None:
    store = _ENGINE.store
    with store.lock:
        store.stacks, store.change_sets = list(state[0]), list(state[1])


def take_on_interrupted() -> int:
    """After a restart: settle the stacks a stopped cloud left in progress (restart.py); how many."""
    from .restart import take_on

    return take_on(_ENGINE.store, _ENGINE.steps) if _ENGINE is not None else 0


def engine() -> Any:
    """The running provisioner (``Engine``), or None before install."""
    return _ENGINE


def rest_api_definition(api_id: str, data_dir: str | Path | None = None) -> dict[str, Any] | None:
    """The resolved OpenAPI/Swagger body a stack gave REST API ``api_id`` (None if it had none)."""
    base = Path(data_dir) if data_dir is not None else _DATA_DIR
    if base is None:
        return None
    path = base / "cloudformation" / "apis" / f"{api_id}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
