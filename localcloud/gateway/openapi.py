"""OpenAPI import as API Gateway does it, where moto's import falls short of what the gateway
serves: moto refuses Swagger 2.0 (what SAM emits), needs ``info.description``, turns
``x-amazon-apigateway-any-method`` and path-level keys (``parameters``) into methods, rejects
SAM's ``credentials: arn:aws:iam::*:user/*``, and drops ``security`` (IAM auth, Lambda and
Cognito authorizers: ``x-amazon-apigateway-authorizer``) and
``x-amazon-apigateway-binary-media-types``. The hooks normalise the document before moto reads
it and then set what moto dropped on the methods and the API it created.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from localcloud.moto_hooks import hook

from . import api_keys, authorizers
from .config import ACCOUNT_ID

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "any"}
ANY_METHOD = "x-amazon-apigateway-any-method"
_WHY = "import OpenAPI/Swagger bodies as API Gateway does (SAM's Swagger 2.0, ANY, IAM auth, binary media types)"


def normalize(doc: Any) -> Any:
    """A copy of ``doc`` that moto's import accepts and reads correctly. Idempotent."""
    if not isinstance(doc, dict):
        return doc
    doc = copy.deepcopy(doc)
    if "swagger" in doc:
        doc.pop("swagger")
        doc["openapi"] = "3.0.1"
    info = doc.setdefault("info", {})
    if isinstance(info, dict):
        info.setdefault("title", "")
        info.setdefault("description", "")
    paths = doc.get("paths")
    if isinstance(paths, dict):
        for path, item in list(paths.items()):
            if not isinstance(item, dict):
                paths.pop(path)
                continue
            cleaned = {}
            for key, op in item.items():
                key_l = "any" if key.lower() == ANY_METHOD else key.lower()
                if key_l in HTTP_METHODS and isinstance(op, dict):
                    _clean_integration(op.get("x-amazon-apigateway-integration"))
                    cleaned[key_l] = op
            paths[path] = cleaned
    return doc


def _clean_integration(integration: Any) -> None:
    if not isinstance(integration, dict):
        return
    # moto requires both even where API Gateway does not (MOCK integrations)
    integration.setdefault("uri", "")
    integration.setdefault("httpMethod", "")
    creds = integration.get("credentials")
    if isinstance(creds, str) and not re.match(rf"^arn:aws:iam::{ACCOUNT_ID}:", creds):
        # SAM's "invoke with the caller's credentials" marker; moto would refuse it as cross-account.
        integration.pop("credentials")


def fold_root_duplicate(api: Any) -> None:
    """moto imports the path ``/`` as a child of the root with an empty path part; API Gateway
    puts its methods on the root resource itself."""
    root = api.resources.get(api.root_resource_id)
    if root is None:
        return
    for rid, resource in list(api.resources.items()):
        if resource.parent_id == root.id and resource.path_part == "":
            root.resource_methods.update(resource.resource_methods)
            api.resources.pop(rid, None)


def apply_extensions(api: Any, doc: Any) -> None:
    """Set on moto's API what its import ignores: IAM auth per method, binary media types."""
    if not isinstance(doc, dict):
        return
    fold_root_duplicate(api)
    binary = doc.get("x-amazon-apigateway-binary-media-types")
    if isinstance(binary, list):
        api.binaryMediaTypes = [str(t) for t in binary]
    schemes = doc.get("securityDefinitions") or (doc.get("components") or {}).get("securitySchemes") or {}
    iam_schemes = {
        name
        for name, scheme in schemes.items()
        if isinstance(scheme, dict) and str(scheme.get("x-amazon-apigateway-authtype", "")).lower() == "awssigv4"
    }
    custom = authorizers.import_authorizers(api, schemes)
    key_schemes = api_keys.key_schemes(schemes)
    default_security = doc.get("security")
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        resource = api.get_resource_for_path(path)
        if resource is None:
            continue
        for key, op in item.items():
            if not isinstance(op, dict):
                continue
            method = resource.resource_methods.get(key.upper())
            if method is None:
                continue
            security = op.get("security", default_security) or []
            named = [name for req in security if isinstance(req, dict) for name in req]
            if any(name in key_schemes for name in named):
                method.api_key_required = True
            if any(name in iam_schemes for name in named):
                method.authorization_type = "AWS_IAM"
            elif any(name in custom for name in named):
                scheme = next(name for name in named if name in custom)
                chosen = custom[scheme]
                method.authorization_type = chosen.authorization_type
                method.authorizer_id = chosen.authorizer_id
                scopes = next((req[scheme] for req in security if isinstance(req, dict) and scheme in req), None)
                method.authorization_scopes = [str(x) for x in scopes] if scopes else None
            elif method.authorization_type is None:
                method.authorization_type = "NONE"


def install() -> None:
    @hook("moto.apigateway.models", "APIGatewayBackend.import_rest_api", _WHY)
    def import_rest_api(original, self, api_doc, fail_on_warnings):
        return original(self, normalize(api_doc), fail_on_warnings)

    @hook("moto.apigateway.models", "APIGatewayBackend.put_rest_api", _WHY)
    def put_rest_api(original, self, function_id, api_doc, fail_on_warnings, mode="merge"):
        doc = normalize(api_doc)
        api = original(self, function_id, doc, fail_on_warnings, mode)
        apply_extensions(api, doc)
        return api
