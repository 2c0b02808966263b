"""lambda_runner: not yet built."""


def install(cloud) -> None:
    pass
