"""Marshmallow schemas for every request and response body of the HTTP API.

Route modules import from here; `kensho.http.openapi` turns them into OpenAPI components.
Each response schema carries an `example` that the docs show and the tests validate.
"""

from kensho.http.schemas._base import BodySchema, QuerySchema, ResponseSchema
from kensho.http.schemas.admin import (
    ActorNodeSchema,
    ActorStatsSchema,
    ActorTreeSchema,
    BreakerOverrideSchema,
    BreakerStateSchema,
    CacheInvalidateRequestSchema,
    CacheInvalidateResponseSchema,
    RestartResponseSchema,
    SearchAnalyticsSchema,
    WorkerSchema,
)
from kensho.http.schemas.auth import (
    AccountSchema,
    LoginRequestSchema,
    LoginResponseSchema,
    MeSchema,
)
from kensho.http.schemas.catalog import (
    AnimeIdPathSchema,
    AnimeListQuerySchema,
    AnimeListSchema,
    AnimeQuerySchema,
    AnimeSchema,
    EpisodeIdPathSchema,
    EpisodeListQuerySchema,
    EpisodeListSchema,
    EpisodeSchema,
    ImagesSchema,
    SeasonSchema,
    TitlesSchema,
)
from kensho.http.schemas.console import (
    SyncReportSchema,
    SyncRunSchema,
    SyncStatusSchema,
    SyncTriggerSchema,
)
from kensho.http.schemas.health import DependencyCheckSchema, HealthLiveSchema, HealthReadySchema
from kensho.http.schemas.problem import FieldErrorSchema, ProblemSchema, problem_example
from kensho.http.schemas.search import (
    SearchHitSchema,
    SearchPageSchema,
    SearchQuerySchema,
    SuggestionPageSchema,
    SuggestionSchema,
    SuggestQuerySchema,
)
from kensho.http.schemas.streams import (
    StreamHeartbeatSchema,
    StreamQuerySchema,
    StreamResponseSchema,
    SubtitleSchema,
)

__all__ = [
    "AccountSchema",
    "ActorNodeSchema",
    "ActorStatsSchema",
    "ActorTreeSchema",
    "AnimeIdPathSchema",
    "AnimeListQuerySchema",
    "AnimeListSchema",
    "AnimeQuerySchema",
    "AnimeSchema",
    "BodySchema",
    "BreakerOverrideSchema",
    "BreakerStateSchema",
    "CacheInvalidateRequestSchema",
    "CacheInvalidateResponseSchema",
    "DependencyCheckSchema",
    "EpisodeIdPathSchema",
    "EpisodeListQuerySchema",
    "EpisodeListSchema",
    "EpisodeSchema",
    "FieldErrorSchema",
    "HealthLiveSchema",
    "HealthReadySchema",
    "ImagesSchema",
    "LoginRequestSchema",
    "LoginResponseSchema",
    "MeSchema",
    "ProblemSchema",
    "QuerySchema",
    "ResponseSchema",
    "RestartResponseSchema",
    "SearchAnalyticsSchema",
    "SearchHitSchema",
    "SearchPageSchema",
    "SearchQuerySchema",
    "SeasonSchema",
    "StreamHeartbeatSchema",
    "StreamQuerySchema",
    "StreamResponseSchema",
    "SubtitleSchema",
    "SuggestQuerySchema",
    "SuggestionPageSchema",
    "SuggestionSchema",
    "SyncReportSchema",
    "SyncRunSchema",
    "SyncStatusSchema",
    "SyncTriggerSchema",
    "TitlesSchema",
    "WorkerSchema",
    "problem_example",
]
