"""The ``live`` aliases of a stage's functions: flipped all at once, in parallel, and put back as
they were when any flip fails — a stage never runs half one build and half another."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

from sprout.domain.canary import Weight
from sprout.domain.errors import RollbackFailed
from sprout.domain.model import LIVE_ALIAS

MAX_PARALLEL = 16

__all__ = ["Aliases", "Flip", "RollbackFailed"]


@dataclass(frozen=True)
class Flip:
    logical_id: str
    function_name: str
    version: str  # the version `live` must point at
    s3_key: str | None = None  # the build's artifact, to republish from if the version is gone


@dataclass(frozen=True)
class FlipResult:
    versions: dict[str, str]
    previous: dict[str, str]
    republished: list[str]
    seconds: float


class Aliases:
    def __init__(self, bucket: str, client=None, before_flip: Callable[[Flip], None] | None = None):
        self._lambda = client or boto3.client("lambda")
        self._bucket = bucket
        self._before_flip = before_flip  # a seam for fault injection in tests

    def flip_all(self, flips: list[Flip]) -> FlipResult:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, max(len(flips), 1))) as pool:
            previous = dict(zip([f.logical_id for f in flips], pool.map(self._current, flips), strict=True))
            targets = dict(zip([f.logical_id for f in flips], pool.map(self._existing_or_republished, flips), strict=True))
            outcomes = list(pool.map(lambda f: self._flip(f, targets[f.logical_id]), flips))
        failed = [(f, e) for f, e in zip(flips, outcomes, strict=True) if e is not None]
        if failed:
            flipped = [f for f, e in zip(flips, outcomes, strict=True) if e is None]
            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, max(len(flipped), 1))) as pool:
                list(pool.map(lambda f: self._point(f.function_name, previous[f.logical_id]), flipped))
            first, error = failed[0]
            raise RollbackFailed(
                f"could not point {first.logical_id} at version {first.version}: {error}; "
                f"the {len(flipped)} alias(es) already flipped were put back"
            )
        republished = [f.logical_id for f in flips if targets[f.logical_id] != f.version]
        return FlipResult(targets, previous, republished, round(time.monotonic() - started, 3))

    def _current(self, flip: Flip) -> str:
        return self._lambda.get_alias(FunctionName=flip.function_name, Name=LIVE_ALIAS)["FunctionVersion"]

    def _existing_or_republished(self, flip: Flip) -> str:
        try:
            self._lambda.get_function_configuration(FunctionName=flip.function_name, Qualifier=flip.version)
            return flip.version
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException" or not flip.s3_key:
                raise
        # the recorded version is gone: publish the build's artifact again
        return self.publish_artifact(flip.function_name, flip.s3_key)

    def publish_artifact(self, function_name: str, s3_key: str) -> str:
        """A build's artifact published as a new version of the function (a rollback's version that
        is gone, a canary's new version)."""
        self.restore_code(function_name, s3_key)
        return str(self._lambda.publish_version(FunctionName=function_name)["Version"])

    def restore_code(self, function_name: str, s3_key: str) -> None:
        """The function's ``$LATEST`` code set to a build's artifact (no version published)."""
        self._lambda.update_function_code(FunctionName=function_name, S3Bucket=self._bucket, S3Key=s3_key)
        self._lambda.get_waiter("function_updated_v2").wait(FunctionName=function_name)

    def weigh(self, weights: list[Weight]) -> float:
        """Every alias set at once, in parallel: ``live`` on its primary version with the weight on the
        extra one (a canary step), or on its primary alone (an abort, the final flip). Seconds taken."""
        started = time.monotonic()

        def one(w: Weight) -> None:
            routing = {w.extra: round(w.percent / 100, 5)} if w.extra and w.percent else {}
            self._lambda.update_alias(FunctionName=w.function_name, Name=LIVE_ALIAS, FunctionVersion=w.primary,
                                      RoutingConfig={"AdditionalVersionWeights": routing})

        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, max(len(weights), 1))) as pool:
            list(pool.map(one, weights))
        return round(time.monotonic() - started, 3)

    def _flip(self, flip: Flip, version: str) -> Exception | None:
        try:
            if self._before_flip:
                self._before_flip(flip)
            self._point(flip.function_name, version)
        except Exception as e:  # noqa: BLE001 - every failure is reported, and the others put back
            return e
        return None

    def _point(self, function_name: str, version: str) -> None:
        self._lambda.update_alias(FunctionName=function_name, Name=LIVE_ALIAS, FunctionVersion=version)
