"""The request envelope and the concepts it runs, in the house order.

Order (outermost first): request id -> tracing -> metrics -> errors -> rate limit -> input
validation -> timeout -> cache control. Errors sits inside metrics and tracing so they record
the final status, and outside the rest so a refusal, a bad field or a deadline becomes a
problem. All share one frame, `Envelope` (see its module for why), which wraps each route's
handler (`kensho.http.routing.Routes`) instead of running as an aiohttp middleware.

Import from the modules themselves (`.envelope`, `.timeout`, ...): this package imports
nothing, so `kensho.http.keys` can name the envelope's protocol without a cycle.
"""
