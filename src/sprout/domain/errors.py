"""Named domain errors. The API maps them to HTTP statuses; in Step Functions tasks they propagate
by name so ASL Retry/Catch can match them."""

from typing import Any


class SproutError(Exception):
    """Base of Sprout's named errors."""


PREFIX = 40  # the most of any value an error message echoes


def named(name: object, limit: int = PREFIX) -> str:
    """A name (an app's, a stage's, a function's...) as an error message may echo it: itself when
    short, else a short prefix and how much was left out. Every message that echoes a name or value
    a caller sent goes through here (or ``shown``), so a 3000-character name comes back as 40."""
    text = str(name)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def shown(value: object, limit: int = PREFIX) -> str:
    """A value as an error message may echo it: its repr (a string quoted, so its type shows), cut
    to a short prefix."""
    return named(repr(value), limit)


class InvalidInput(SproutError):
    """A request or payload field is missing or malformed (HTTP 400)."""

    def __init__(self, field: str, message: str):
        field = named(field)  # an unknown field's name is the caller's, and may be long
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(SproutError):
    """HTTP 404; ``field`` names the request field that named the missing thing, when one did."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class AppNotFound(NotFound):
    pass


class BuildNotFound(NotFound):
    pass


class StageNotFound(NotFound):
    pass


class DeploymentNotFound(NotFound):
    pass


class ArtifactNotFound(NotFound):
    """A stored artifact or packaged template is missing from the artifact bucket."""


class Conflict(SproutError):
    """HTTP 409."""


class AppAlreadyExists(Conflict):
    pass


class StageBusy(Conflict):
    """Another deployment holds the stage; ``holder`` says which (deployment, execution, lease)."""

    def __init__(self, message: str, holder: dict[str, Any] | None = None):
        super().__init__(message)
        self.holder = holder or {}


class PackagingError(SproutError):
    """The commit cannot be packaged: template missing or invalid, CodeUri missing, ..."""


class CacheIntegrityError(PackagingError):
    """A cached object (installed dependencies) is not what Sprout stored: its sha256 differs from
    the one the lineage recorded, or no digest was recorded. The object is not used."""


class SourceError(SproutError):
    """The source cannot be fetched from the repository."""


class DeployError(SproutError):
    """The stage's stack could not be deployed."""


class BuildNotDeployable(InvalidInput):
    """The build cannot go to a stage: failed, still building, or quarantined without force (400)."""


class NothingToRollBackTo(Conflict):
    """The stage has no earlier good deployment to go back to (409)."""


class StackNameTaken(Conflict):
    """A stage stack name is another app's, or a stack Sprout does not own (409)."""


class StageMoved(Conflict):
    """The stage no longer runs the deployment a request was judged against (409): a change set
    confirmed against it is stale."""


class StaleChangeSet(Conflict):
    """The change set a promote confirmed no longer matches what the stage runs (409)."""

    def __init__(self, message: str, changeset: dict[str, Any]):
        super().__init__(message)
        self.changeset = changeset
class FunctionNotFound(NotFound):
    """A stage has no function by that logical id or short form."""


class NotDeployed(Conflict):
    """The stage was never deployed: it has no functions, API or logs yet."""


class AccessLogsOff(Conflict):
    """Access logs of the stage are off: there is nothing to read."""


class StackNotReady(SproutError):
    """The stage's stack is busy with another operation (or being deleted): try again shortly."""


class RollbackFailed(SproutError):
    """A ``live`` alias could not be flipped; the ones already flipped were put back (the rollback
    machine's Catch names this error)."""


class NotificationsNotQueued(SproutError):
    """A notification could not be queued for a reason that may pass (throttling, a service fault):
    the notifier fails so that its invocation is retried; the others were queued."""
