"""moto's state as one picklable value, and back.

moto keeps each service's state in a module-level ``BackendDict`` (account -> region -> backend);
the ones in use are listed in ``BackendDict._instances``. A snapshot holds, for each of them, its
module, its name there and its accounts; loading puts the accounts back into the same
``BackendDict`` objects (components hold references to them), so nothing else is rebound.

Function code, layer content and S3 object bodies are kept once by content beside the snapshot
(``blobs``). What is not state is left out: AWS managed IAM policies (about 20 MB, loaded by moto when the IAM
backend is made) are written as a reference (``aws_managed_policy``) and taken from the new IAM backend on load, with the
number of attachments they had; the worker of a Step Functions execution (its interpreter's
thread and environment) is written as its history only: an ``EndedWorker`` that
answers GetExecutionHistory: an execution that was running is ended on load (``inflight``).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from localcloud.moto_hooks import require

from . import blobs
from .blobs import Blobs

_IAM_MODELS = "moto.iam.models"
_PARTITION = "aws"  # the local cloud's partition (us-east-1)
_WORKER = ("moto.stepfunctions.parser.backend.execution_worker", "ExecutionWorker")


def _backend_dict_class() -> Any:
    return require("moto.core.base_backend", "BackendDict", "the BackendDicts in use (_instances) hold moto's state")


def _in_use() -> list[Any]:
    cls = _backend_dict_class()
    require("moto.core.base_backend", "BackendDict._instances", "the BackendDicts that hold state")
    return list(cls._instances)


def _location(backend_dict: Any) -> tuple[str, str] | None:
    module = sys.modules.get(backend_dict.backend.__module__)
    if module is None:
        return None
    for name, value in vars(module).items():
        if value is backend_dict:
            return backend_dict.backend.__module__, name
    return None


def collect() -> dict[tuple[str, str], dict[str, Any]]:
    """{(module, name): {account id: AccountSpecificBackend}} for every BackendDict in use."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for backend_dict in _in_use():
        where = _location(backend_dict)
        if where is None or not len(backend_dict):
            continue
        accounts = dict(backend_dict.items())
        if where == (_IAM_MODELS, "iam_backends"):
            accounts = {a: _only(b, _PARTITION) for a, b in accounts.items()}
        out[where] = accounts
    return out


def _only(account_backend: Any, region: str) -> Any:
    """A copy of an AccountSpecificBackend with only ``region``'s backend (the IAM backends of the
    other partitions are made by moto on first use and hold nothing of the local cloud's)."""
    import copy

    kept = copy.copy(account_backend)  # the same attributes; its items are set below
    dict.clear(kept)
    if dict.__contains__(account_backend, region):
        dict.__setitem__(kept, region, dict.__getitem__(account_backend, region))
    return kept


def restore(state: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Put the accounts of each BackendDict back (replacing what a fresh start made)."""
    cls = _backend_dict_class()
    for (module_name, name), accounts in state.items():
        backend_dict = getattr(importlib.import_module(module_name), name)
        dict.clear(backend_dict)
        for account_id, account_backend in accounts.items():
            dict.__setitem__(backend_dict, account_id, account_backend)
        if backend_dict not in cls._instances:
            cls._instances.append(backend_dict)


class References:
    """How what is not written whole is written (``reduce`` for ``snapshot.dumps``)."""

    def __init__(self, store: Blobs | None = None) -> None:
        self._aws_policy = require(_IAM_MODELS, "AWSManagedPolicy", "AWS managed policies are written as references")
        self._worker = require(*_WORKER, "an execution's worker (its thread) is not state")
        self._store = store
        self._large = {
            require("moto.awslambda.models", "LambdaFunction", "a function's code is kept as a blob"),
            require("moto.awslambda.models", "LayerVersion", "a layer's content is kept as a blob"),
            require("moto.s3.models", "FakeKey", "an object's body is kept as a blob"),
        }

    def reducers(self) -> dict[type, Any]:
        """For ``snapshot.dumps``: how each of these exact types is written."""
        out: dict[type, Any] = {self._aws_policy: _policy_reference, self._worker: _ended_worker}
        if self._store is not None:
            store = self._store
            for cls in self._large:
                out[cls] = lambda obj: blobs.reduce_with_blobs(obj, store)
        return out


def _policy_reference(obj: Any) -> Any:
    return (aws_managed_policy, (obj.account_id, obj.partition, obj.arn, obj.attachment_count))


def _ended_worker(obj: Any) -> Any:
    env = getattr(obj, "env", None)
    return (EndedWorker, (list(env.event_manager.get_event_history()) if env is not None else [],))


def aws_managed_policy(account_id: str, partition: str, arn: str, attachments: int) -> Any:
    """The AWS managed policy ``arn`` of the new IAM backend, with the attachments it had."""
    iam = require(_IAM_MODELS, "iam_backends", "AWS managed policies are taken from the new IAM backend")
    policy = iam[account_id][partition].managed_policies[arn]
    policy.attachment_count = attachments
    return policy


class _Events:
    def __init__(self, events: list[dict[str, Any]]):
        self.events = events

    def get_event_history(self) -> list[dict[str, Any]]:
        return self.events


class _Env:
    def __init__(self, events: list[dict[str, Any]]):
        self.event_manager = _Events(events)

    def program_state(self) -> None:
        return None


class EndedWorker:
    """What is left of an execution's worker after a restart: its history (moto reads it as
    ``exec_worker.env.event_manager.get_event_history()``); stopping it does nothing."""

    def __init__(self, events: list[dict[str, Any]]):
        self.env = _Env(events)

    def stop(self, *args: Any, **kwargs: Any) -> None:
        return None
