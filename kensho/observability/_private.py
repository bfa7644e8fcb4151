"""The one place Kenshō's observability reaches into other libraries' private API.

Everything else uses public API. What has no public form (checked against the versions in
pyproject.toml: aiopg 1.4, OpenTelemetry instrumentations 0.5x-0.6x betas):

- `db_pool_waiting`: how many acquirers wait for an aiopg connection. aiopg counts connections
  (`size`, `freesize`) but not waiters; they wait on the pool's `asyncio.Condition`, whose
  `_waiters` deque is the count.
- `http_semconv_mode`: the HTTP semantic-convention mode the OpenTelemetry instrumentations
  derive from `OTEL_SEMCONV_STABILITY_OPT_IN`. `AioHttpClientInstrumentor.instrument()` passes
  it to `create_trace_config` itself, but it patches every `ClientSession` in the process; we
  build a trace config per upstream session (`Tracing.client_trace_configs`), whose
  `sem_conv_opt_in_mode` parameter takes the private `_StabilityMode`, derived by the private
  `_OpenTelemetrySemanticConventionStability`.

(The aiohttp-server instrumentation's exclusion list used to be set through its module
global `_excluded_urls`; it is now given through its documented environment variable.)

`tests/observability/test_private_contract.py` pins each behaviour, so an upgrade that changes
one fails there with a message naming this module, before the version range is widened.
"""

from __future__ import annotations

from typing import Any

__all__ = ["db_pool_waiting", "http_semconv_mode"]


def db_pool_waiting(pool: Any) -> int:
    """Acquirers waiting for a connection of the aiopg `pool` (0 if aiopg stopped keeping
    them where we look: the contract test fails then)."""
    waiters = getattr(getattr(pool, "_cond", None), "_waiters", None)
    return len(waiters) if waiters is not None else 0


def http_semconv_mode() -> Any:
    """The process's HTTP semantic-convention mode, for `create_trace_config`.

    Read from `OTEL_SEMCONV_STABILITY_OPT_IN` once per process (the instrumentations cache it),
    so set that variable before the first instrumentation or call here.
    """
    from opentelemetry.instrumentation._semconv import (  # noqa: PLC0415
        _OpenTelemetrySemanticConventionStability as Stability,
    )
    from opentelemetry.instrumentation._semconv import (  # noqa: PLC0415
        _OpenTelemetryStabilitySignalType as Signal,
    )

    Stability._initialize()  # type: ignore[no-untyped-call]
    return Stability._get_opentelemetry_stability_opt_in_mode(Signal.HTTP)
