"""SAM templates: package local artifacts (what ``sam package`` does), then translate with SAM's
own translator (``samtranslator``), so Globals, generated roles, policy templates, AutoPublishAlias,
Events and Api bodies mean exactly what SAM says they mean.

Packaging: a property of the table ``ARTIFACTS`` that names a local path (not ``s3://``, not an
intrinsic) is read relative to the stack's base directory (see the package docstring), zipped
deterministically when it is a folder (sorted entries, fixed timestamps, normalised permissions,
``__pycache__``/``*.pyc``/``.git``/``.aws-sam`` left out) and uploaded to the artifact bucket under
a key made of its SHA-256, so unchanged code gives an unchanged template and no update.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3

from localcloud.sam_build import SamBuildError, build_python_dependencies

from .intrinsics import is_intrinsic
from .template import TemplateError, parse_template

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

# (resource type, property) -> (packing, form). packing: "zip" (a folder is zipped, a .zip/.jar
# is uploaded as is, another file is zipped alone) or "file" (uploaded as is). form: how the
# uploaded object is written back into the template.
ARTIFACTS: dict[tuple[str, str], tuple[str, str]] = {
    ("AWS::Serverless::Function", "CodeUri"): ("zip", "s3uri"),
    ("AWS::Serverless::LayerVersion", "ContentUri"): ("zip", "s3uri"),
    ("AWS::Serverless::Api", "DefinitionUri"): ("file", "s3uri"),
    ("AWS::Serverless::StateMachine", "DefinitionUri"): ("file", "s3uri"),
    ("AWS::Lambda::Function", "Code"): ("zip", "S3Bucket/S3Key"),
    ("AWS::Lambda::LayerVersion", "Content"): ("zip", "S3Bucket/S3Key"),
    ("AWS::StepFunctions::StateMachine", "DefinitionS3Location"): ("file", "Bucket/Key"),
    ("AWS::ApiGateway::RestApi", "BodyS3Location"): ("file", "Bucket/Key"),
    ("AWS::Serverless::HttpApi", "DefinitionUri"): ("file", "s3uri"),
    ("AWS::ApiGatewayV2::Api", "BodyS3Location"): ("file", "Bucket/Key"),
}

_EXCLUDED_DIRS = {"__pycache__", ".git", ".aws-sam", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

Uploader = Callable[[bytes, str], tuple[str, str]]  # (data, suffix) -> (bucket, key)


def is_sam(transforms: list[str]) -> bool:
    return SAM_TRANSFORM in transforms


# ---- packaging -------------------------------------------------------------------------------


def deterministic_zip(folder: Path) -> bytes:
    """The folder's files as a zip whose bytes depend only on names, contents and exec bits."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in _files(folder):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_ZIP_EPOCH)
            info.external_attr = (0o100755 if os.access(path, os.X_OK) else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def _files(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in _EXCLUDED_DIRS)
        found.extend(Path(root, f) for f in sorted(files) if not f.endswith(_EXCLUDED_SUFFIXES))
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _zip_single_file(path: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(path.name, date_time=_ZIP_EPOCH)
        info.external_attr = 0o100644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def is_local_path(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and not value.startswith(("s3://", "http://", "https://"))


def local_path(value: str, base_dir: Path | None, where: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute():
        if base_dir is None:
            raise TemplateError(
                f"{where}: '{value}' is a relative local path but the stack has no base directory; create the "
                "stack with TemplateURL=file:///abs/path/template.yaml or the tag localcloud:template-dir=/abs/dir"
            )
        path = base_dir / path
    if not path.exists():
        raise TemplateError(f"{where}: local path '{value}' ({path}) does not exist")
    return path


def _pack(path: Path, packing: str) -> tuple[bytes, str]:
    if path.is_dir():
        if packing != "zip":
            raise TemplateError(f"'{path}' is a folder; a file is expected here")
        return deterministic_zip(path), ".zip"
    if packing == "zip" and path.suffix.lower() not in (".zip", ".jar"):
        return _zip_single_file(path), ".zip"
    return path.read_bytes(), path.suffix


# Where ``sam build`` steps (Metadata: BuildMethod) put their output; set by install() to a folder
# of the local cloud's data dir.
BUILD_ROOT: Path | None = None


def _built(path: Path, metadata: Any, where: str, layer: bool = True) -> Path:
    """What ``sam build`` makes of ``path`` for a resource whose Metadata names a BuildMethod."""
    method = (metadata or {}).get("BuildMethod") if isinstance(metadata, dict) else None
    if not method:
        return path
    if not str(method).startswith("python") or not path.is_dir():
        raise TemplateError(f"{where}: Metadata BuildMethod {method} is not supported (only pythonX.Y on a folder)")
    if BUILD_ROOT is None:
        raise TemplateError(f"{where}: BuildMethod {method} needs a build folder")
    try:
        return build_python_dependencies(path, BUILD_ROOT, layer)
    except SamBuildError as e:
        raise TemplateError(f"{where}: {e}") from None


def _default_code_uri(resource: Any, fn_globals: Any) -> None:
    """``sam build``/``sam package``: a function with neither ``CodeUri`` (its own or from
    ``Globals.Function``) nor ``InlineCode`` nor an image has the template's folder as its code."""
    if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
        return
    props = resource.setdefault("Properties", {})
    if not isinstance(props, dict):
        return
    declared = {**(fn_globals if isinstance(fn_globals, dict) else {}), **props}
    if not {"CodeUri", "InlineCode", "ImageUri"} & set(declared) and declared.get("PackageType") != "Image":
        props["CodeUri"] = "."


def _local_artifacts(template: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str, str, str, str, Any, bool]]:
    """Every artifact property of ``template`` (changed in place: a function without code gets the
    template's folder, as ``sam build`` does): (properties, property, packing, form, where, metadata,
    layer) -- the property may still be an S3 location or an intrinsic."""
    fn_globals = ((template.get("Globals") or {}).get("Function")) or {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        _default_code_uri(resource, fn_globals)
        props = resource.get("Properties") if isinstance(resource, dict) else None
        if not isinstance(props, dict):
            continue
        for prop, value in list(props.items()):
            spec = ARTIFACTS.get((resource.get("Type"), prop))
            if spec and not is_intrinsic(value):
                yield (props, prop, *spec, f"{logical_id} ({resource['Type']}) {prop}", resource.get("Metadata"),
                       resource["Type"].endswith("LayerVersion"))
    if isinstance(fn_globals, dict) and "CodeUri" in fn_globals:
        yield fn_globals, "CodeUri", "zip", "s3uri", "Globals.Function.CodeUri", None, True


def package(template: dict[str, Any], base_dir: Path | None, upload: Uploader) -> dict[str, Any]:
    """A copy of ``template`` whose local artifact paths are uploaded and replaced by S3 locations
    (after the build that a resource's ``Metadata: BuildMethod`` asks for, as ``sam build`` does)."""
    out = copy.deepcopy(template)
    uploaded: dict[Path, tuple[str, str]] = {}

    def replace(value: Any, packing: str, form: str, where: str, metadata: Any = None, layer: bool = True) -> Any:
        if not is_local_path(value):
            return value
        path = _built(local_path(value, base_dir, where), metadata, where, layer)
        try:
            if path not in uploaded:
                data, suffix = _pack(path, packing)
                uploaded[path] = upload(data, suffix)
        except OSError as e:
            raise TemplateError(f"{where}: cannot read '{path}': {e.strerror or e}") from None
        except TemplateError as e:
            raise TemplateError(f"{where}: {e}") from None
        bucket, key = uploaded[path]
        if form == "s3uri":
            return f"s3://{bucket}/{key}"
        bucket_field, key_field = form.split("/")
        return {bucket_field: bucket, key_field: key}

    for props, prop, packing, form, where, metadata, layer in _local_artifacts(out):
        props[prop] = replace(props[prop], packing, form, where, metadata, layer)
    return out


def fingerprint(body: str, base_dir: Path, parameters: dict[str, str]) -> str:
    """A digest of everything a stack made from ``body`` depends on: the template, where it is,
    the parameters, and the content of every local artifact it packages (a ``sam build`` output by
    its folder's name, which is its inputs' digest). Equal digests: ``package`` makes the same
    template, so an update would have nothing to do (what ``up`` skips on a restart)."""
    digest = hashlib.sha256(body.encode())
    digest.update(f"\0{base_dir.resolve()}\0{sorted(parameters.items())}".encode())
    for props, prop, _packing, _form, where, metadata, layer in _local_artifacts(parse_template(body)):
        value = props[prop]
        digest.update(f"\0{where}\0{value}".encode())
        if not is_local_path(value):
            continue
        path = _built(local_path(value, base_dir, where), metadata, where, layer)
        if BUILD_ROOT is not None and path.is_relative_to(BUILD_ROOT):
            digest.update(path.name.encode())
            continue
        for file in _files(path) if path.is_dir() else [path]:
            digest.update(f"\0{file.relative_to(path) if path.is_dir() else file.name}\0{os.access(file, os.X_OK)}\0".encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def content_key(data: bytes, suffix: str) -> str:
    return hashlib.sha256(data).hexdigest() + suffix


# ---- translation -----------------------------------------------------------------------------


class ManagedPolicyMap(dict):
    """SAM's bundled name -> ARN map of AWS managed policies, and for any other name the ARN it
    would have (``arn:aws:iam::aws:policy/<name>``): no IAM call, no network."""

    def get(self, name: Any, default: Any = None) -> Any:
        if name in self:
            return self[name]
        if isinstance(name, str) and name and not name.startswith("arn:") and "/" not in name:
            return f"arn:aws:iam::aws:policy/{name}"
        return default


def managed_policy_map() -> ManagedPolicyMap:
    from samtranslator.internal.managed_policies import get_bundled_managed_policy_map

    return ManagedPolicyMap(get_bundled_managed_policy_map("aws") or {})


def translate(template: dict[str, Any], parameter_values: dict[str, Any], region: str) -> dict[str, Any]:
    """The CloudFormation template SAM makes of ``template`` (already packaged)."""
    from samtranslator.model.exceptions import ExceptionWithMessage, InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(template)
    policies = managed_policy_map()
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        return translator.translate(template, dict(parameter_values), get_managed_policy_map=lambda: policies)
    except InvalidDocumentException as e:
        causes = " ".join(c.message for c in e.causes)
        raise TemplateError(f"Transform {SAM_TRANSFORM} failed with: {e.message} {causes}") from None
    except ExceptionWithMessage as e:
        raise TemplateError(f"Transform {SAM_TRANSFORM} failed with: {e.message}") from None
