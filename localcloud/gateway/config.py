"""What the gateway knows about REST APIs: read live from moto's apigateway model, with the
route tree of each API cached until its set of resources changes.

moto holds the APIs as Python objects in this process, so reading them is a dict lookup; only
the route tree (resources arranged for matching) is worth caching. A resource in moto never
changes its path, so the tuple of resource ids is a complete fingerprint of the tree. Methods,
integrations and stage settings are read from the live objects on every request, so
``put_method``/``put_integration``/``update-stage`` take effect on the next request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from localcloud.moto_hooks import require

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

_WHY = (
    "the HTTP gateway serves REST APIs from moto's model: RestAPI.{name,resources,stages,"
    "binaryMediaTypes}, Resource.{id,path_part,parent_id,resource_methods,get_path}, "
    "Method.{authorization_type,method_integration}, Integration.{integration_type,uri,"
    "timeout_in_millis,request_templates,integration_responses}, Stage.{variables,"
    "access_log_settings,method_settings}"
)
_backends = require("moto.apigateway.models", "apigateway_backends", _WHY)
require("moto.apigateway.models", "RestAPI", _WHY)
require("moto.apigateway.models", "Resource.get_path", _WHY)
require("moto.apigateway.models", "Stage", _WHY)
require("moto.apigateway.models", "Integration", _WHY)

ANY_METHOD_KEYS = ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD")


@dataclass
class Node:
    """One resource of an API, arranged for matching a request path against it."""

    resource: Any  # moto Resource
    path: str
    literal: dict[str, Node] = field(default_factory=dict)
    param: tuple[str, Node] | None = None
    greedy: tuple[str, Node] | None = None


@dataclass
class Match:
    resource: Any
    resource_path: str
    path_params: dict[str, str]


def get_api(api_id: str) -> Any | None:
    return _backends[ACCOUNT_ID][REGION].apis.get(api_id)


def method_of(resource: Any, http_method: str) -> Any | None:
    """The moto Method serving ``http_method`` on ``resource``: an exact one, else ANY."""
    methods = resource.resource_methods
    found = methods.get(http_method)
    if found is None:
        for key in ANY_METHOD_KEYS:
            found = methods.get(key)
            if found is not None:
                break
    return found


class RouteCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trees: dict[str, tuple[tuple[str, ...], Node | None]] = {}

    def match(self, api: Any, segments: list[str]) -> Match | None:
        root = self._tree(api)
        if root is None:
            return None
        found = _match(root, segments, 0, {})
        if found is None:
            return None
        node, params = found
        return Match(node.resource, node.path, params)

    def _tree(self, api: Any) -> Node | None:
        resources = api.resources
        for _ in range(3):  # another thread may be adding a resource while we look
            try:
                fingerprint = tuple(resources)
                break
            except RuntimeError:
                continue
        else:
            fingerprint = ()
        cached = self._trees.get(api.id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        tree = _build(list(resources.values()))
        with self._lock:
            self._trees[api.id] = (fingerprint, tree)
        return tree


def _build(resources: list[Any]) -> Node | None:
    by_parent: dict[str | None, list[Any]] = {}
    for r in resources:
        by_parent.setdefault(r.parent_id, []).append(r)
    roots = by_parent.get(None) or []
    if not roots:
        return None
    root = Node(roots[0], "/")

    def attach(node: Node) -> None:
        for child in by_parent.get(node.resource.id, []):
            part = child.path_part
            path = ("" if node.path == "/" else node.path) + "/" + part
            sub = Node(child, path)
            if part.startswith("{") and part.endswith("+}"):
                node.greedy = node.greedy or (part[1:-2], sub)
            elif part.startswith("{") and part.endswith("}"):
                node.param = node.param or (part[1:-1], sub)
            else:
                node.literal[part] = sub
            attach(sub)

    attach(root)
    return root


def _match(node: Node, segs: list[str], i: int, params: dict[str, str]) -> tuple[Node, dict[str, str]] | None:
    """Most specific first: a literal segment, then ``{param}``, then greedy ``{proxy+}``."""
    if i == len(segs):
        return node, params
    seg = segs[i]
    child = node.literal.get(seg)
    if child is not None:
        found = _match(child, segs, i + 1, params)
        if found is not None:
            return found
    if node.param is not None:
        name, child = node.param
        found = _match(child, segs, i + 1, {**params, name: seg})
        if found is not None:
            return found
    if node.greedy is not None:
        name, child = node.greedy
        return child, {**params, name: "/".join(segs[i:])}
    return None
