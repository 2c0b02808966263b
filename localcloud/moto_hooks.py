"""Every place where localcloud reaches into moto's private internals goes through ``hook``.

moto's internals are not an API: they move between releases. ``hook`` refuses to patch an
attribute that is not there (failing at start, loudly), and records each hook so that
tests/integration/localcloud/test_moto_contract.py can check them all against the pinned moto.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PINNED_MOTO = "5.2.5"


class MotoContractBroken(RuntimeError):
    """The pinned moto internals that localcloud hooks are not where they were."""


@dataclass(frozen=True)
class Hook:
    module: str
    qualname: str
    why: str
    original: Any


HOOKS: dict[tuple[str, str], Hook] = {}


def resolve(module: str, qualname: str) -> tuple[Any, str, Any]:
    """(owner, attribute name, current value) for ``module:qualname``; raises MotoContractBroken."""
    try:
        owner: Any = importlib.import_module(module)
    except ImportError as e:
        raise MotoContractBroken(f"moto module {module} is gone (pinned moto {PINNED_MOTO})") from e
    *path, attr = qualname.split(".")
    for part in path:
        if not hasattr(owner, part):
            raise MotoContractBroken(f"{module}.{'.'.join(path)} is gone (pinned moto {PINNED_MOTO})")
        owner = getattr(owner, part)
    if not hasattr(owner, attr):
        raise MotoContractBroken(f"{module}.{qualname} is gone (pinned moto {PINNED_MOTO})")
    return owner, attr, getattr(owner, attr)


def hook(module: str, qualname: str, why: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: replace ``module.qualname`` with the decorated function.

    The replacement receives the original as its first argument, e.g.::

        @hook("moto.awslambda.models", "LambdaFunction.invoke", "run the real code")
        def invoke(original, self, body, request_headers, response_headers): ...
    """

    def install(replacement: Callable[..., Any]) -> Callable[..., Any]:
        owner, attr, current = resolve(module, qualname)
        key = (module, qualname)
        original = HOOKS[key].original if key in HOOKS else current

        def patched(*args: Any, **kwargs: Any) -> Any:
            return replacement(original, *args, **kwargs)

        patched.__name__ = getattr(original, "__name__", attr)
        patched.__doc__ = f"localcloud hook: {why}"
        patched.__localcloud_hook__ = key  # type: ignore[attr-defined]
        setattr(owner, attr, patched)
        HOOKS[key] = Hook(module, qualname, why, original)
        return replacement

    return install


def is_hooked(module: str, qualname: str) -> bool:
    _, _, current = resolve(module, qualname)
    return getattr(current, "__localcloud_hook__", None) == (module, qualname)


REQUIRED: dict[tuple[str, str], str] = {}


def require(module: str, qualname: str, why: str) -> Any:
    """Read a private moto name (a backend dict, a model class) without patching it; recorded
    for the contract test like a hook. Returns the value."""
    _, _, value = resolve(module, qualname)
    REQUIRED[(module, qualname)] = why
    return value


PROVIDED: dict[tuple[str, str], str] = {}


def provide(module: str, qualname: str, why: str, value: Any) -> None:
    """Add ``value`` as ``module.qualname`` where the pinned moto has nothing (an API action moto
    does not implement, served by localcloud). Fails at start, loudly, once moto has it (then hook it instead);
    recorded in PROVIDED."""
    *path, attr = qualname.split(".")
    owner = resolve(module, ".".join(path))[2] if path else importlib.import_module(module)
    key = (module, qualname)
    if key not in PROVIDED and hasattr(owner, attr):
        raise MotoContractBroken(f"{module}.{qualname} exists now: hook it instead of providing it (pinned moto {PINNED_MOTO})")
    setattr(owner, attr, value)
    PROVIDED[key] = why
