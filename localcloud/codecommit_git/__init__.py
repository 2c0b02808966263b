"""codecommit_git: not yet built."""


def install(cloud) -> None:
    pass
