"""cloudformation: not yet built."""


def install(cloud) -> None:
    pass
