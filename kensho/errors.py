"""One error taxonomy for the whole service.

Domain code raises these; one middleware (`kensho.http.problems`) maps them to RFC 9457
problem+json by walking the class hierarchy, so handlers never catch an exception just to pick
a status. Each class carries its HTTP status, a short title and a stable `type` slug
(`https://kensho.dev/problems/<slug>`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "ActorError",
    "ActorStopped",
    "ActorTimeout",
    "ActorUnavailable",
    "BadRequest",
    "CircuitOpen",
    "Conflict",
    "Forbidden",
    "Gone",
    "KenshoError",
    "MailboxFull",
    "MethodNotAllowed",
    "NotAcceptable",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceUnavailable",
    "Timeout",
    "Unauthorized",
    "UnsupportedMediaType",
    "UpstreamError",
    "ValidationFailed",
]


class KenshoError(Exception):
    """Base of every error the service reports to a client."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    slug: ClassVar[str] = "internal"
    #: Whether `detail` may be shown to clients. A 500's detail never is.
    expose: ClassVar[bool] = True

    def __init__(
        self,
        detail: str = "",
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra: dict[str, Any] = dict(extra or {})
        self.headers: dict[str, str] = dict(headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, detail={self.detail!r})"


class BadRequest(KenshoError):
    status, title, slug = 400, "Bad Request", "bad-request"


class ValidationFailed(KenshoError):
    """A request parameter or body field is invalid; `errors` names each field."""

    status, title, slug = 422, "Unprocessable Content", "validation"

    def __init__(
        self,
        detail: str = "",
        *,
        errors: Sequence[Mapping[str, str]] = (),
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail, extra={"errors": [dict(e) for e in errors]}, headers=headers)
        if status is not None:
            self.status = status  # type: ignore[misc]

    @classmethod
    def field(cls, name: str, message: str, *, status: int = 422) -> ValidationFailed:
        """Shortcut for one invalid field; `status=400` for query-string parameters."""
        return cls(
            f"{name}: {message}", errors=[{"field": name, "message": message}], status=status
        )


class Unauthorized(KenshoError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(KenshoError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(KenshoError):
    status, title, slug = 404, "Not Found", "not-found"


class MethodNotAllowed(KenshoError):
    status, title, slug = 405, "Method Not Allowed", "method-not-allowed"


class NotAcceptable(KenshoError):
    status, title, slug = 406, "Not Acceptable", "not-acceptable"


class Conflict(KenshoError):
    status, title, slug = 409, "Conflict", "conflict"


class Gone(KenshoError):
    status, title, slug = 410, "Gone", "gone"


class PayloadTooLarge(KenshoError):
    status, title, slug = 413, "Content Too Large", "payload-too-large"


class UnsupportedMediaType(KenshoError):
    status, title, slug = 415, "Unsupported Media Type", "unsupported-media-type"


class _RetryAfterMixin(KenshoError):
    def __init__(self, detail: str = "", *, retry_after: float | None = None, **kw: Any) -> None:
        headers = dict(kw.pop("headers", None) or {})
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, round(retry_after + 0.499)))
        super().__init__(detail, headers=headers, **kw)
        self.retry_after = retry_after


class RateLimited(_RetryAfterMixin):
    status, title, slug = 429, "Too Many Requests", "rate-limited"


class ServiceUnavailable(_RetryAfterMixin):
    status, title, slug = 503, "Service Unavailable", "unavailable"


class CircuitOpen(ServiceUnavailable):
    """The upstream breaker is open: fail fast instead of waiting on a dead dependency."""

    slug = "circuit-open"


class UpstreamError(KenshoError):
    """The Crunchyroll API answered with something we cannot use."""

    status, title, slug = 502, "Bad Gateway", "upstream"


class Timeout(KenshoError):
    status, title, slug = 504, "Gateway Timeout", "timeout"


class ActorError(KenshoError):
    """Base of failures in the actor runtime, as seen by a caller."""

    status, title, slug = 503, "Service Unavailable", "actor"
    expose = False


class ActorUnavailable(ActorError):
    """The actor is restarting and its stash is full, or it has failed for good."""

    slug = "actor-unavailable"


class ActorStopped(ActorError):
    """The actor was stopped (shutdown) before it answered."""

    slug = "actor-stopped"


class MailboxFull(ActorError, ServiceUnavailable):
    """Too many messages already wait for this actor: fail fast (503 with `Retry-After`)."""

    slug = "mailbox-full"


class ActorTimeout(ActorError):
    """An ask was not answered within its timeout."""

    status, title, slug = 504, "Gateway Timeout", "actor-timeout"
