"""events_router: not yet built."""


def install(cloud) -> None:
    pass
