"""`FeatureFlags`: flag evaluation through the OpenFeature SDK, the operators' view and
changes, and the flags' Prometheus series.

Code asks `flags.variant(key, subject)`; that goes through an OpenFeature client bound to this
service's own domain (so two apps in one process never share a provider) and our
`KenshoProvider`, whose settings are: the fleet's override in Redis when Redis answers, else
the configured one (`KENSHO_FLAGS`), else the flag's built-in default. An evaluation never
fails a request: an unknown flag or a provider error yields the caller's default.

A subject's variant only changes when a setting does, and an OpenFeature evaluation (hooks,
context merging, provider status) costs ~10x the decision itself (`docs/benchmarks.md`), so
decisions are memoised per (flag, subject) until the next change of any setting. So is
whether a flag's setting splits subjects between variants (`varies`): an answer that depends on
such a flag differs per subject, which HTTP caches shared between clients must be told.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.provider.no_op_provider import NoOpProvider
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from kensho.flags.definitions import FLAGS
from kensho.flags.model import BUCKETS, FlagDefinition, Setting
from kensho.flags.provider import KenshoProvider
from kensho.flags.sync import FlagSync, RedisUnavailable

__all__ = ["FeatureFlags", "FlagsCollector", "RedisUnavailable"]

log = logging.getLogger("kensho.flags")

_DOMAINS = itertools.count(1)
#: Bounds the evaluation counter's label set even if a caller passes odd keys.
_MAX_SERIES: Final = 256
#: Memoised decisions; past this many subjects the memo starts afresh (bounded memory).
_MEMO_MAX: Final = 50_000


class FeatureFlags:
    """The process's flags: evaluate, list, change (fleet-wide through Redis), export."""

    def __init__(
        self,
        *,
        configured: Mapping[str, Setting] | None = None,
        redis: Redis | None = None,
        prefix: str = "kensho:",
        refresh_interval: float = 5.0,
        definitions: Mapping[str, FlagDefinition] = FLAGS,
    ) -> None:
        self.definitions = definitions
        self.configured = dict(configured or {})
        #: (flag, subject, asked as boolean?) -> (variant, value)
        self._memo: dict[tuple[str, str | None, bool], tuple[str, bool | str]] = {}
        #: flag -> whether its setting in force gives subjects different variants
        self._varies: dict[str, bool] = {}
        self.sync = FlagSync(
            redis,
            definitions,
            prefix=prefix,
            interval=refresh_interval,
            on_change=self._forget,
        )
        #: Decisions served by (flag, variant): a plain dict on the loop, read at scrape time
        #: (a prometheus Counter's lock would cost more than a memoised decision).
        self.evaluations: dict[tuple[str, str], int] = {}
        self.domain = f"kensho-flags-{next(_DOMAINS)}"
        self._provider = KenshoProvider(definitions, self.setting)
        api.set_provider_and_wait(self._provider, domain=self.domain)
        self.client = api.get_client(self.domain)

    async def start(self) -> None:
        await self.sync.start()

    async def close(self) -> None:
        await self.sync.close()
        api.set_provider(NoOpProvider(), domain=self.domain)

    # -- evaluation ---------------------------------------------------------------------------
    def setting(self, definition: FlagDefinition) -> Setting:
        """The setting in force here: Redis override > configured > built-in."""
        if self.sync.up:
            override = self.sync.overrides.get(definition.key)
            if override is not None:
                return override
        return self.configured.get(definition.key) or definition.builtin()

    def source(self, key: str) -> str:
        """Where the setting in force comes from: `redis`, `config` or `default`."""
        if self.sync.up and key in self.sync.overrides:
            return "redis"
        return "config" if key in self.configured else "default"

    def configure(self, configured: Mapping[str, Setting]) -> None:
        """Replace the configured settings (what applies without a fleet override)."""
        self.configured = dict(configured)
        self._forget()

    def _forget(self) -> None:
        """A setting changed (or Redis came or went): every memoised decision may be wrong."""
        self._memo.clear()
        self._varies.clear()

    def variant(self, key: str, subject: str | None, default: str) -> str:
        """The string variant `subject` (an account or client id) gets; `default` on error."""
        return str(self._decide(key, subject, default))

    def enabled(self, key: str, subject: str | None, default: bool = False) -> bool:
        """A boolean flag's value for `subject`; `default` on error."""
        return bool(self._decide(key, subject, default))

    def varies(self, key: str) -> bool:
        """Whether the setting in force gives different subjects different variants of `key`
        (a partial rollout); False for a flag nobody splits, or one this code does not know."""
        split = self._varies.get(key)
        if split is None:
            definition = self.definitions.get(key)
            if definition is None:
                split = False
            else:
                shares = share_of_variants(definition, self.setting(definition))
                values = {definition.variants[name] for name, share in shares.items() if share > 0}
                split = len(values) > 1
            self._varies[key] = split
        return split

    def _decide(self, key: str, subject: str | None, default: bool | str) -> bool | str:
        slot = (key, subject, isinstance(default, bool))
        memo = self._memo.get(slot)
        if memo is None:
            context = EvaluationContext(targeting_key=subject)
            if isinstance(default, bool):
                details: Any = self.client.get_boolean_details(key, default, context)
            else:
                details = self.client.get_string_details(key, default, context)
            memo = ("error" if details.error_code else details.variant or "unknown", details.value)
            if details.error_code is None:  # errors are not remembered: they are bugs to see
                if len(self._memo) >= _MEMO_MAX:
                    self._memo.clear()
                self._memo[slot] = memo
        counted = (key, memo[0])
        if counted in self.evaluations or len(self.evaluations) < _MAX_SERIES:
            self.evaluations[counted] = self.evaluations.get(counted, 0) + 1
        return memo[1]

    # -- operators ----------------------------------------------------------------------------
    def describe(self, key: str) -> dict[str, Any]:
        """One flag as `GET /admin/flags` lists it."""
        definition = self.definitions[key]
        setting = self.setting(definition)
        configured = self.configured.get(key) or definition.builtin()
        return {
            "key": key,
            "type": definition.kind,
            "description": definition.description,
            "variants": list(definition.variants),
            "setting": setting.as_dict(),
            "source": self.source(key),
            "configured": configured.as_dict(),
            "shares": share_of_variants(definition, setting),
            "updated_at": self.sync.updated.get(key) if self.source(key) == "redis" else None,
            "evaluations": {
                variant: count
                for (flag, variant), count in sorted(self.evaluations.items())
                if flag == key
            },
        }

    def describe_all(self) -> dict[str, Any]:
        """Every flag and whether the fleet's overrides are being followed."""
        return {
            "redis": {True: "up", False: "down", None: "unknown"}[self.sync.up],
            "refresh_s": self.sync.interval,
            "flags": [self.describe(key) for key in self.definitions],
        }

    async def put(self, key: str, setting: Setting) -> dict[str, Any]:
        """Store `setting` for the whole fleet (raises `RedisUnavailable`); the flag after."""
        await self.sync.store(key, setting)
        return self.describe(key)

    async def reset(self, key: str) -> dict[str, Any]:
        """Drop the fleet's override: back to the configured setting everywhere."""
        await self.sync.store(key, None)
        return self.describe(key)


def share_of_variants(definition: FlagDefinition, setting: Setting) -> dict[str, float]:
    """Percent of subjects that get each variant under `setting` (0..100, sums to 100)."""
    shares = dict.fromkeys(definition.variants, 0.0)
    if not setting.enabled:
        shares[definition.default_variant] = 100.0
        return shares
    rolled = 0
    for name, points in setting.rollout.items():
        shares[name] += points / 100
        rolled += points
    shares[setting.default_variant] += (BUCKETS - rolled) / 100
    return shares


class FlagsCollector(Collector):
    """At scrape time: feature_flag_state{flag,variant} (percent of subjects),
    feature_flag_enabled{flag}, feature_flag_evaluations_total{flag,variant},
    feature_flag_redis_up (0: the configured settings are in force)."""

    def __init__(self, flags: FeatureFlags) -> None:
        self._flags = flags

    def collect(self) -> Iterable[Metric]:
        flags = self._flags
        state = GaugeMetricFamily(
            "feature_flag_state",
            "Percent of subjects each flag variant is served to here",
            labels=["flag", "variant"],
        )
        enabled = GaugeMetricFamily(
            "feature_flag_enabled",
            "1 when the flag is on (0: everyone gets its built-in)",
            labels=["flag"],
        )
        evaluations = CounterMetricFamily(
            "feature_flag_evaluations", "Flag evaluations by variant", labels=["flag", "variant"]
        )
        redis_up = GaugeMetricFamily(
            "feature_flag_redis_up",
            "1 while the fleet's flag settings are read from Redis; 0: configured settings",
        )
        for key, definition in flags.definitions.items():
            setting = flags.setting(definition)
            enabled.add_metric([key], 1.0 if setting.enabled else 0.0)
            for variant, share in share_of_variants(definition, setting).items():
                state.add_metric([key, variant], share)
        for (key, variant), count in sorted(flags.evaluations.items()):
            evaluations.add_metric([key, variant], float(count))
        redis_up.add_metric([], 1.0 if flags.sync.up else 0.0)
        return [state, enabled, evaluations, redis_up]
