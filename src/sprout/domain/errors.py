"""Named domain errors. The API maps them to HTTP statuses; in Step Functions tasks they propagate
by name so ASL Retry/Catch can match them."""


class SproutError(Exception):
    """Base of Sprout's named errors."""


class InvalidInput(SproutError):
    """A request or payload field is missing or malformed (HTTP 400)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(SproutError):
    """HTTP 404."""


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
    """Another deployment holds the stage."""


class PackagingError(SproutError):
    """The commit cannot be packaged: template missing or invalid, CodeUri missing, ..."""


class SourceError(SproutError):
    """The source cannot be fetched from the repository."""


class DeployError(SproutError):
    """The stage's stack could not be deployed."""


class FunctionNotFound(NotFound):
    """A stage has no function by that logical id or short form."""


class NotDeployed(Conflict):
    """The stage was never deployed: it has no functions, API or logs yet."""


class AccessLogsOff(Conflict):
    """Access logs of the stage are off: there is nothing to read."""
