"""A cost of moto's server on every request that the gateway's Invoke calls pay: to route a
request, moto's ``DomainDispatcherApplication.get_application`` checks the host against
``moto.backends.list_of_moto_modules()``, which lists moto's package folder (``listdir`` plus an
``isdir`` per service, ~170) — under a process-wide lock. Measured with bench/bench_gateway.py:
~1.4 ms of CPU per Lambda Invoke. The folder does not change while the process runs, so the list
is read once.
"""

from __future__ import annotations

from localcloud.moto_hooks import hook

_modules: tuple[str, ...] | None = None


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
