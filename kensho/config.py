"""Configuration: `KENSHO_*` environment variables over an optional TOML file, validated once.

Every field is declared once in `Config` with its type, default and bounds; the environment
variable is `KENSHO_` + the upper-cased field name. A bad value raises `ConfigError` whose
message is one line naming the variable, the value and what is allowed, so `kensho serve` can
print it and exit 2.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from yarl import URL

from kensho.flags.definitions import parse_configured

__all__ = [
    "Config",
    "ConfigError",
    "SimAccountSpec",
    "load_config",
    "parse_base_url",
    "parse_sim_accounts",
    "parse_trusted_proxies",
    "parse_workers",
]

ENV_PREFIX = "KENSHO_"


class ConfigError(ValueError):
    """A configuration value is invalid; the message is one line meant for an operator."""


def _opt(
    default: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] = (),
    secret: bool = False,
    help: str = "",  # noqa: A002 - reads best at the call sites
) -> Any:
    return field(
        default=default,
        metadata={"lo": lo, "hi": hi, "choices": choices, "secret": secret, "help": help},
    )


@dataclass(frozen=True, slots=True)
class Config:
    """Validated settings: build with `load_config()`; tests may call `Config(...)` directly."""

    host: str = _opt("127.0.0.1", help="listen address")
    port: int = _opt(8080, lo=0, hi=65535, help="listen port (0 picks a free one)")
    workers: str = _opt(
        "1", help="server processes on the one port: a count 1..256, or auto (one per CPU)"
    )
    data_dir: Path = _opt(Path(".kensho"), help="embedded databases and state")
    database_url: str | None = _opt(None, secret=True, help="PostgreSQL DSN; unset = embedded")
    redis_url: str | None = _opt(None, secret=True, help="Redis URL; unset = embedded")
    upstream_url: str | None = _opt(None, help="Crunchyroll API base URL; unset = simulator")
    sim_accounts: str | None = _opt(
        None, secret=True, help="extra simulator accounts: email:password:premium|free[:CC];…"
    )
    sim_port: int = _opt(
        8091, lo=0, hi=65535, help="in-process simulator's port (stable: image URLs embed it)"
    )
    sim_public_url: str | None = _opt(
        None, help="base of the links the in-process simulator hands out (images, streams)"
    )
    upstream_client_id: str = _opt("kensho-sim-client", help="Crunchyroll Basic client id")
    upstream_client_secret: str | None = _opt(
        "kensho-sim-secret", secret=True, help="client secret"
    )
    upstream_pool_size: int = _opt(32, lo=1, hi=10_000, help="pooled upstream connections")
    upstream_acquire_timeout: float = _opt(1.0, lo=0.001, hi=60, help="pooled connection wait (s)")
    upstream_connect_timeout: float = _opt(2.0, lo=0.01, hi=60, help="TCP connect timeout (s)")
    upstream_timeout: float = _opt(5.0, lo=0.01, hi=600, help="per-attempt upstream timeout (s)")
    upstream_call_timeout: float = _opt(10.0, lo=0.01, hi=600, help="all attempts of one call (s)")
    upstream_retries: int = _opt(2, lo=0, hi=10, help="retries of idempotent upstream calls")
    admin_token: str | None = _opt(None, secret=True, help="bearer token for /admin; unset = 404")
    log_level: str = _opt("INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="log level")
    log_format: str = _opt("json", choices=("json", "text"), help="log line format")
    # HTTP behaviour
    request_timeout: float = _opt(10.0, lo=0.01, hi=600, help="default per-request deadline (s)")
    client_max_size: int = _opt(1_048_576, lo=1024, hi=1 << 30, help="largest request body (bytes)")
    rate_limit_rps: float = _opt(
        0.0, lo=0, hi=1_000_000, help="requests/s per client address; 0 = no limit"
    )
    rate_limit_burst: int = _opt(100, lo=1, hi=1_000_000, help="burst above the per-client rate")
    rate_limit_search_rps: float = _opt(
        0.0, lo=0, hi=1_000_000, help="search routes' requests/s per client; 0 = default policy"
    )
    rate_limit_search_burst: int = _opt(20, lo=1, hi=1_000_000, help="search routes' burst")
    rate_limit_auth_rps: float = _opt(
        0.0, lo=0, hi=1_000_000, help="/api/auth requests/s per client; 0 = default policy"
    )
    rate_limit_auth_burst: int = _opt(10, lo=1, hi=1_000_000, help="/api/auth routes' burst")
    rate_limit_admin_rps: float = _opt(
        0.0, lo=0, hi=1_000_000, help="/admin requests/s per client; 0 = default policy"
    )
    rate_limit_admin_burst: int = _opt(20, lo=1, hi=1_000_000, help="/admin routes' burst")
    rate_limit_account_rps: float = _opt(
        0.0, lo=0, hi=1_000_000, help="requests/s per session token (authenticated); 0 = off"
    )
    rate_limit_account_burst: int = _opt(50, lo=1, hi=1_000_000, help="per-session-token burst")
    rate_limit_lease: int = _opt(
        128, lo=1, hi=10_000, help="most tokens a replica leases from Redis at once; 1 = exact"
    )
    trusted_proxies: str | None = _opt(
        None, help="addresses/CIDRs whose forwarded headers name the client; unset = none"
    )
    forwarded_header: str = _opt(
        "x-forwarded-for",
        choices=("x-forwarded-for", "forwarded"),
        help="which header the trusted proxies set: X-Forwarded-For or Forwarded (RFC 7239)",
    )
    prestop_delay: float = _opt(5.0, lo=0, hi=300, help="keep serving after SIGTERM (s)")
    shutdown_timeout: float = _opt(20.0, lo=0.1, hi=600, help="in-flight request budget (s)")
    ready_cache_seconds: float = _opt(1.0, lo=0, hi=60, help="cache readiness checks (s)")
    # Actors
    ask_timeout: float = _opt(5.0, lo=0.001, hi=600, help="default actor ask timeout (s)")
    stash_limit: int = _opt(1000, lo=0, hi=1_000_000, help="messages kept while an actor restarts")
    mailbox_limit: int = _opt(
        10_000, lo=1, hi=10_000_000, help="messages that may wait per actor; beyond: 503"
    )
    # Stores
    db_pool_min: int = _opt(1, lo=0, hi=1000, help="PostgreSQL pool minimum")
    db_pool_max: int = _opt(10, lo=1, hi=1000, help="PostgreSQL pool maximum")
    redis_pool_max: int = _opt(32, lo=1, hi=10_000, help="Redis connection pool size")
    # Cache (kensho.cache)
    cache_prefix: str = _opt("kensho:cache:", help="cache key namespace in Redis")
    redis_prefix: str = _opt("kensho:", help="namespace of Kenshō's other Redis keys")
    cache_l1_max_entries: int = _opt(10_000, lo=1, hi=10_000_000, help="L1 entry bound")
    cache_l1_max_bytes: int = _opt(64 << 20, lo=1024, hi=1 << 34, help="L1 value bytes bound")
    cache_redis_timeout: float = _opt(0.5, lo=0.01, hi=30, help="cache Redis timeouts (s)")
    # Search (kensho.search)
    search_threads: int = _opt(
        0, lo=0, hi=64, help="threads ranking uncached searches; 0: on the loop, one per turn"
    )
    search_max_waiting: int = _opt(
        64, lo=0, hi=100_000, help="uncached searches waiting to be ranked; beyond: 503"
    )
    search_max_age: int = _opt(
        30, lo=0, hi=3600, help="Cache-Control max-age of search and suggestion answers (s)"
    )
    search_suggest_ttl: float = _opt(
        10.0, lo=0.1, hi=3600, help="how long a replica keeps a suggestion list (s)"
    )
    # Catalog API (kensho.catalog)
    catalog_ttl: float = _opt(60.0, lo=0, hi=86_400, help="catalog cache freshness (s)")
    catalog_stale_ttl: float = _opt(300.0, lo=0, hi=86_400, help="serve stale while refreshing (s)")
    catalog_error_ttl: float = _opt(86_400.0, lo=0, hi=604_800, help="serve stale on errors (s)")
    catalog_warm_count: int = _opt(200, lo=0, hi=100_000, help="most popular anime pre-cached")
    export_batch: int = _opt(500, lo=1, hi=10_000, help="anime per export database batch")
    export_max_concurrent: int = _opt(
        2, lo=1, hi=100, help="exports at once (each holds a database connection)"
    )
    export_idle_timeout: float = _opt(
        60.0, lo=1, hi=3600, help="longest an export waits on a stalled client (s)"
    )
    cursor_secret: str | None = _opt(
        None, secret=True, help="signs every cursor; set the same on every replica"
    )
    # Jobs
    catalog_sync_interval: float = _opt(
        3600.0, lo=0, hi=604_800, help="catalog sync period (s); 0 = start only"
    )
    catalog_sync_lease_ttl: float = _opt(
        60.0, lo=1, hi=3600, help="sync leader's lease (s): a crashed leader's run resumes after"
    )
    catalog_sync_pool_size: int = _opt(
        16, lo=1, hi=1000, help="the sync's own upstream connections and concurrent calls"
    )
    catalog_version_poll: float = _opt(
        10.0, lo=0, hi=3600, help="poll for syncs done by other replicas (s); 0 = notices only"
    )
    # Upstream resilience, login and streams (issue 4)
    breaker_window_size: int = _opt(20, lo=1, hi=10_000, help="breaker window (calls)")
    breaker_minimum_calls: int = _opt(10, lo=1, hi=10_000, help="calls before the breaker judges")
    breaker_failure_rate: float = _opt(50.0, lo=1, hi=100, help="failure % that opens it")
    breaker_wait_in_open: float = _opt(5.0, lo=0.001, hi=3600, help="first open wait (s)")
    breaker_max_wait_in_open: float = _opt(120.0, lo=0.001, hi=86_400, help="open wait cap (s)")
    breaker_half_open_calls: int = _opt(3, lo=1, hi=1000, help="probes in half-open")
    session_ttl: float = _opt(2_592_000.0, lo=60, hi=31_536_000, help="Kenshō session life (s)")
    session_pool_max: int = _opt(10_000, lo=1, hi=10_000_000, help="sessions kept in memory")
    login_max_failures: int = _opt(5, lo=1, hi=1000, help="failed logins before 429")
    login_max_failures_per_address: int = _opt(
        50, lo=1, hi=1_000_000, help="failed logins from one client address before 429"
    )
    login_failure_window: float = _opt(900.0, lo=1, hi=86_400, help="failed-login window (s)")
    stream_sweep_interval: float = _opt(30.0, lo=0.01, hi=3600, help="stream release sweep (s)")
    session_encryption_key: str | None = _opt(
        None, secret=True, help="Fernet key(s), comma-separated, for upstream tokens at rest"
    )
    # Feature flags (kensho.flags)
    flags: str | None = _opt(
        None, help='flag settings as JSON: {"search-ranking": {"default_variant": ...}, ...}'
    )
    flags_refresh: float = _opt(
        5.0, lo=0.05, hi=3600, help="re-read the fleet's flag overrides in Redis every (s)"
    )
    # Sessions and streams across replicas (issue 12, docs/fleet.md)
    session_revalidate_interval: float = _opt(
        5.0, lo=0.05, hi=60, help="re-read a cached session from PostgreSQL after (s)"
    )
    session_refresh_margin: float = _opt(
        30.0, lo=0, hi=86_400, help="refresh an upstream token this long before expiry (s)"
    )
    stream_heartbeat_timeout: float = _opt(
        300.0,
        lo=0,
        hi=86_400,
        help="release a grant whose player went silent this long (s; 0 = never)",
    )
    stream_open_lock: float = _opt(
        10.0, lo=0.1, hi=120, help="fleet-wide lock on one stream open (s, Redis)"
    )
    # Observability
    otel_endpoint: str | None = _opt(None, help="OTLP/HTTP traces endpoint; unset = no export")
    service_name: str = _opt("kensho", help="service name in traces and metrics")
    otel_sampler_ratio: float = _opt(
        1.0, lo=0, hi=1, help="share of new traces sampled (parent-based: a caller's choice wins)"
    )
    otel_excluded_urls: str = _opt(
        "^/health/,^/metrics$",
        help="comma-separated path regexes never traced (probes and scrapes)",
    )

    def __post_init__(self) -> None:
        try:
            parse_workers(self.workers)
        except ValueError as exc:
            raise ConfigError(f"KENSHO_WORKERS={exc}") from None
        if self.sim_accounts:
            try:
                parse_sim_accounts(self.sim_accounts)
            except ValueError:  # its message quotes the item, password included: not echoed
                raise ConfigError(
                    "KENSHO_SIM_ACCOUNTS is invalid: expected items "
                    "email:password:premium|free[:COUNTRY] separated by ';'"
                ) from None
        if self.sim_public_url is not None:
            try:
                parse_base_url(self.sim_public_url)
            except ValueError as exc:
                raise ConfigError(f"KENSHO_SIM_PUBLIC_URL={exc}") from None
        if self.flags is not None:
            try:
                parse_configured(self.flags)
            except ValueError as exc:
                raise ConfigError(f"KENSHO_FLAGS is invalid: {exc}") from None
        if self.trusted_proxies is not None:
            try:
                parse_trusted_proxies(self.trusted_proxies)
            except ValueError as exc:
                raise ConfigError(f"KENSHO_TRUSTED_PROXIES={exc}") from None
        for pattern in self.otel_excluded_url_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(
                    f"KENSHO_OTEL_EXCLUDED_URLS: {pattern!r} is not a regular expression: {exc}"
                ) from None
        if self.db_pool_min > self.db_pool_max:
            raise ConfigError(
                f"KENSHO_DB_POOL_MIN={self.db_pool_min} is larger than "
                f"KENSHO_DB_POOL_MAX={self.db_pool_max}: the minimum must not exceed the maximum"
            )

    @property
    def otel_excluded_url_patterns(self) -> list[str]:
        """`KENSHO_OTEL_EXCLUDED_URLS` as a list of path regexes (searched, so anchor them)."""
        return [p.strip() for p in self.otel_excluded_urls.split(",") if p.strip()]

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, for the start-up log line."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value is not None:
                value = "***"
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


#: The most worker processes `--workers` accepts (a typo such as 1000 should not fork-bomb a host).
MAX_WORKERS = 256


def parse_workers(text: str | int) -> int:
    """`--workers` / `KENSHO_WORKERS`: a count 1..MAX_WORKERS, or ``auto`` for the CPUs this
    process may run on. ValueError quotes the value and says what is allowed."""
    raw = str(text).strip()
    if raw.lower() == "auto":
        return min(MAX_WORKERS, available_cpus())
    if raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= MAX_WORKERS:
        return int(raw)
    raise ValueError(f"{str(text)[:40]!r} is invalid: expected a count 1..{MAX_WORKERS} or auto")


def available_cpus() -> int:
    """The CPUs this process may use (its affinity mask, e.g. a container's cpuset), else the
    machine's count; at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


class SimAccountSpec(NamedTuple):
    """One `KENSHO_SIM_ACCOUNTS` item: a simulator account to create."""

    email: str
    password: str
    premium: bool
    country: str


def parse_sim_accounts(text: str) -> tuple[SimAccountSpec, ...]:
    """Parse ``email:password:premium|free[:COUNTRY]`` items separated by ``;`` or ``,``.

    The one grammar of `KENSHO_SIM_ACCOUNTS` and `kensho sim --accounts`; raises ValueError
    naming the bad item.
    """
    accounts = []
    for raw in text.replace(",", ";").split(";"):
        item = raw.strip()
        if not item:
            continue
        parts = item.split(":")
        if len(parts) not in (3, 4) or not all(parts) or "@" not in parts[0]:
            raise ValueError(f"bad account {item!r}: expected email:password:premium|free[:CC]")
        tier = parts[2].lower()
        if tier not in ("premium", "free"):
            raise ValueError(f"bad account {item!r}: tier must be premium or free")
        country = parts[3].upper() if len(parts) == 4 else "US"
        if len(country) != 2 or not country.isalpha():
            raise ValueError(f"bad account {item!r}: country must be two letters")
        accounts.append(SimAccountSpec(parts[0], parts[1], tier == "premium", country))
    return tuple(accounts)


def parse_base_url(text: str) -> str:
    """A public base URL (`KENSHO_SIM_PUBLIC_URL`, `kensho sim --public-url`):
    ``http(s)://host[:port][/path]``, no query or fragment; returned without a trailing slash.
    ValueError says what is wrong."""
    url = URL(text.strip())
    if (
        url.scheme not in ("http", "https")
        or not url.host
        or url.query_string
        or url.fragment
        or len(text) > 512
    ):
        raise ValueError(
            f"{text[:80]!r} is not a base URL: expected http(s)://host[:port][/path] "
            "without query or fragment"
        )
    return str(url).rstrip("/")


#: More networks than any real proxy chain needs; a longer list is a mistake (or an attack on
#: the start-up log).
_MAX_TRUSTED = 256

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated addresses or CIDRs (`10.0.0.0/8, ::1`) -> networks; ValueError names
    the bad item. Host bits set in a CIDR (`10.0.0.1/8`) are refused: a typo, not a network."""
    networks: list[IPNetwork] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if len(networks) >= _MAX_TRUSTED:
            raise ValueError(f"{text[:40]!r}… lists more than {_MAX_TRUSTED} networks")
        try:
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError:
            raise ValueError(
                f"{item[:80]!r} is invalid: expected IP addresses or CIDRs such as "
                "10.0.0.0/8, separated by commas"
            ) from None
    return tuple(networks)


def _field_types() -> dict[str, tuple[type, bool]]:
    """Map field name to (base type, optional?) from the annotations."""
    hints: dict[str, tuple[type, bool]] = {}
    table = {"str": str, "int": int, "float": float, "bool": bool, "Path": Path}
    for f in dataclasses.fields(Config):
        text = str(f.type).replace(" ", "")
        optional = text.endswith("|None")
        base = text.removesuffix("|None")
        hints[f.name] = (table[base], optional)
    return hints


def _convert(name: str, raw: Any, kind: type, optional: bool, meta: Mapping[str, Any]) -> Any:
    var = ENV_PREFIX + name.upper()
    shown = "***" if meta.get("secret") else repr(raw)
    if optional and (raw is None or raw == ""):
        return None
    try:
        if kind is bool:
            if isinstance(raw, bool):
                value: Any = raw
            elif str(raw).lower() in ("1", "true", "yes", "on"):
                value = True
            elif str(raw).lower() in ("0", "false", "no", "off"):
                value = False
            else:
                raise ValueError
        elif kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            value = int(str(raw).strip())
        elif kind is float:
            if isinstance(raw, bool):
                raise ValueError
            value = float(str(raw).strip())
            if not math.isfinite(value):
                raise ValueError
        elif kind is Path:
            value = Path(str(raw))
        elif name == "flags" and isinstance(raw, dict):  # a TOML table: the same JSON document
            value = json.dumps(raw)
        else:
            value = str(raw)
    except ValueError:
        allowed = {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "text")
        raise ConfigError(f"{var}={shown} is invalid: expected {allowed}") from None
    lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices") or ()
    if kind is str and choices:
        value = value.upper() if name == "log_level" else value.lower()
        if value not in choices:
            raise ConfigError(f"{var}={shown} is invalid: allowed values are {', '.join(choices)}")
    if kind in (int, float) and (
        (lo is not None and value < lo) or (hi is not None and value > hi)
    ):
        raise ConfigError(f"{var}={shown} is out of range: allowed {lo}..{hi}")
    if kind is str and not optional and not value.strip():
        raise ConfigError(f"{var} is empty: give a value or unset it for the default")
    if name.endswith("_url") and value is not None and "://" not in value:
        raise ConfigError(f"{var}={shown} is invalid: expected a URL such as scheme://host:port/…")
    return value


def load_config(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Build a `Config` from a TOML file (`KENSHO_CONFIG`), the environment and overrides.

    Later sources win: TOML < environment < overrides. Unknown `KENSHO_*` variables and unknown
    TOML keys are errors with a "did you mean" hint, because a typo must not silently fall back
    to a default.
    """
    env = dict(os.environ if environ is None else environ)
    types = _field_types()
    meta = {f.name: f.metadata for f in dataclasses.fields(Config)}
    raw: dict[str, Any] = {}

    toml_path = env.pop(ENV_PREFIX + "CONFIG", None)
    if toml_path:
        try:
            with open(toml_path, "rb") as fh:
                doc = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(
                f"KENSHO_CONFIG={toml_path!r} cannot be read: {exc.strerror}"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"KENSHO_CONFIG={toml_path!r} is not valid TOML: {exc}") from None
        section = doc.get("kensho", doc)
        for key, value in section.items():
            if key not in types:
                raise ConfigError(f"{toml_path}: unknown key {key!r}{_did_you_mean(key, types)}")
            raw[key] = value

    for var, value in env.items():
        if not var.startswith(ENV_PREFIX) or var.startswith(ENV_PREFIX + "TEST_"):
            continue
        key = var[len(ENV_PREFIX) :].lower()
        if key not in types:
            raise ConfigError(f"{var} is not a Kenshō setting{_did_you_mean(key, types, env=True)}")
        raw[key] = value
    raw.update(overrides or {})

    values = {k: _convert(k, v, *types[k], meta[k]) for k, v in raw.items()}
    return Config(**values)


def _did_you_mean(key: str, names: Mapping[str, Any], *, env: bool = False) -> str:
    close = difflib.get_close_matches(key, list(names), n=1)
    if not close:
        return ""
    shown = ENV_PREFIX + close[0].upper() if env else close[0]
    return f"; did you mean {shown}?"


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, help) rows for the README and `kensho config`."""
    rows = []
    for f in dataclasses.fields(Config):
        default = f.default if f.default is not dataclasses.MISSING else ""
        rows.append((ENV_PREFIX + f.name.upper(), str(default), f.metadata.get("help", "")))
    return rows
