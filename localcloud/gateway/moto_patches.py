"""Costs of moto's server on every request that the gateway's Invoke calls pay, each computed once:

- to route a request, moto's ``DomainDispatcherApplication.get_application`` checks the host against
  ``moto.backends.list_of_moto_modules()``, which lists moto's package folder (``listdir`` plus an
  ``isdir`` per service, ~170) — under a process-wide lock. Measured with bench/bench_gateway.py:
  ~1.4 ms of CPU per Lambda Invoke. The folder does not change while the process runs.
- to dispatch an action, ``BaseResponse.call_action`` lists the response class's methods with
  ``inspect.getmembers`` (~4% of the cloud's CPU under bench_gateway's proxy load). A class's
  methods are set when localcloud's hooks are installed, before the server serves.
"""

from __future__ import annotations

from localcloud.moto_hooks import hook

_modules: tuple[str, ...] | None = None
_methods: dict[type, list[str]] = {}


def install() -> None:
    @hook(
        "moto.backends",
        "list_of_moto_modules",
        "list moto's service folders once, not on every request (the gateway's Lambda Invoke round trip)",
    )
    def list_of_moto_modules(original):
        global _modules
        if _modules is None:
            _modules = tuple(original())
        return _modules

    @hook(
        "moto.core.responses",
        "method_names_from_class",
        "list a response class's methods once, not on every request",
    )
    def method_names_from_class(original, clazz):
        names = _methods.get(clazz)
        if names is None:
            names = _methods[clazz] = original(clazz)
        return names
