"""The shapes the public clients decode, transcribed as field lists (not copied code).

Each entry: (required keys, optional keys). "Required" = a field crunchyroll-rs' ``__test_strict``
build needs (no ``serde(default)``, not an ``Option``); "optional" = one it also accepts. Its
strict build denies every other key, so a body must satisfy ``required <= keys <= required |
optional``. Sources (crunchy-labs/crunchyroll-rs at d26b107 unless noted): ``src/media/anime/
{series,season,episode,movie,movie_listing}.rs``, ``src/media/stream.rs``, ``src/account.rs``,
``src/profile.rs``, ``src/categories.rs``, ``src/search.rs``, ``src/crunchyroll.rs``
(``AuthResponse``); ``IndexResp`` and the legacy ``Stream`` at ``c054735^``.
"""

from __future__ import annotations

from typing import Any

Shape = tuple[frozenset[str], frozenset[str]]


def _shape(required: str, optional: str = "") -> Shape:
    return frozenset(required.split()), frozenset(optional.split())


AUTH_RESPONSE = _shape(
    "access_token expires_in token_type scope country", "refresh_token account_id profile_id"
)
SERIES = _shape(
    "id channel_id slug title slug_title description extended_description episode_count "
    "season_count is_subbed is_dubbed is_simulcast audio_locales subtitle_locales images "
    "maturity_ratings is_mature mature_blocked availability_notes extended_maturity_rating",
    "content_provider series_launch_year media_count season_tags content_descriptors "
    "content_descriptors_with_symbol tenant_categories keywords availability_status awards "
    "livestream language_presentation external_id last_public linked_resource_key new "
    "new_content promo_title promo_description search_metadata type seo_title seo_description "
    "linked_guid",
)
SEASON = _shape(
    "id series_id channel_id title slug_title description season_number "
    "season_sequence_number number_of_episodes is_complete is_subbed is_dubbed is_simulcast "
    "audio_locales subtitle_locales maturity_ratings is_mature mature_blocked "
    "availability_notes versions images season_display_number extended_maturity_rating",
    "identifier keywords season_tags content_descriptors content_descriptors_with_symbol "
    "audio_locale language_presentation seo_title seo_description",
)
EPISODE = _shape(
    "id channel_id identifier slug title slug_title description season_id season_title "
    "season_slug_title season_sequence_number series_id series_title series_slug_title "
    "episode sequence_number season_number season_display_number audio_locale "
    "subtitle_locales duration_ms episode_air_date upload_date free_available_date "
    "premium_available_date availability_starts availability_ends images is_dubbed is_subbed "
    "is_premium_only is_clip is_mature maturity_ratings mature_blocked available_offline "
    "availability_notes availability_status closed_captions_available eligible_region "
    "versions extended_maturity_rating available_date premium_date",
    "next_episode_id next_episode_title season_tags roles production_episode_id "
    "episode_number recent_audio_locale content_descriptors content_descriptors_with_symbol "
    "tenant_categories ad_breaks language_presentation streams_link media_type external_id "
    "linked_resource_key new promo_title promo_description search_metadata type seo_title "
    "seo_description listing_id hd_flag recent_variant linked_guid stream_guid",
)
EPISODE_VERSION = _shape(
    "guid media_guid season_guid audio_locale is_premium_only original variant", "roles"
)
SEASON_VERSION = _shape("guid audio_locale original variant", "restriction_windows")
IMAGE = _shape("source type height width")
MOVIE_LISTING = _shape(
    "id channel_id slug title slug_title description extended_description "
    "movie_release_year subtitle_locales is_subbed is_dubbed images is_premium_only "
    "free_available_date premium_available_date maturity_ratings is_mature mature_blocked "
    "available_offline availability_notes availability_status versions "
    "extended_maturity_rating available_date premium_date",
    "content_provider audio_locale content_descriptors content_descriptors_with_symbol "
    "keywords season_tags tenant_categories identifier duration_ms external_id first_movie_id "
    "new promo_title seo_title promo_description seo_description hd_flag last_public "
    "linked_resource_key playback type",
)
MOVIE = _shape(
    "id channel_id slug title slug_title description movie_listing_id movie_listing_title "
    "duration_ms images free_available_date premium_available_date is_subbed is_dubbed "
    "closed_captions_available is_premium_only maturity_ratings is_mature mature_blocked "
    "available_offline availability_notes availability_status extended_maturity_rating "
    "available_date premium_date",
    "movie_listing_slug_title content_descriptors content_descriptors_with_symbol ad_breaks "
    "streams_link type audio_locale external_id linked_resource_key promo_title "
    "promo_description availability_starts availability_ends SeriesGUID",
)
STREAM = _shape(
    "url audio_locale hard_subs subtitles captions playback_type token session versions drm",
    "audio_role burned_in_locale asset_id bifs",
)
STREAM_SESSION = _shape(
    "renewSeconds noNetworkRetryIntervalSeconds noNetworkTimeoutSeconds maximumPauseSeconds "
    "endOfVideoUnloadSeconds sessionExpirationSeconds usesStreamLimits"
)
STREAM_VERSION = _shape(
    "guid media_guid season_guid audio_locale is_premium_only original variant", "roles"
)
ACCOUNT = _shape("account_id external_id email phone email_verified has_password created")
PROFILE = _shape(
    "username email profile_id profile_name can_switch is_primary is_selected maturity_rating "
    "extended_maturity_rating",
    "avatar wallpaper preferred_communication_language preferred_content_audio_language "
    "preferred_content_subtitle_language account_id do_not_sell age_consent",
)
PROFILES = _shape("tier_max_profiles max_profiles profiles")
INDEX = _shape("cms_web default_marketing_opt_in service_available cms cms_beta")
INDEX_CMS = _shape("bucket expires key_pair_id policy signature")
CATEGORY = _shape("id slug images localization")
SIMULCAST_SEASONS = _shape("items total locale")
SIMULCAST_SEASON = _shape("id localization")
RELATED_MEDIA = _shape("fully_watched playhead", "panel media shortcut")
EPISODE_RATING = _shape("up down total", "rating")
SERIES_RATING = _shape("total average", "1s 2s 3s 4s 5s rating")
LEGACY_STREAM = _shape(
    "media_id audio_locale subtitles closed_captions captions bifs", "versions streams"
)
LEGACY_VARIANT = _shape("hardsub_locale url")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def check(obj: Any, shape: Shape, *, camel_case: bool = False, what: str = "") -> None:
    """`obj` is a JSON object that the strict decoder accepts."""
    required, optional = shape
    if camel_case:
        required = frozenset(camel(k) for k in required)
        optional = frozenset(camel(k) for k in optional)
    assert isinstance(obj, dict), what
    keys = set(obj)
    assert required <= keys, f"{what}: missing {sorted(required - keys)}"
    assert keys <= required | optional, f"{what}: unknown {sorted(keys - required - optional)}"


def flatten_panel(panel: dict[str, Any], kind: str) -> dict[str, Any]:
    """What crunchyroll-rs decodes from a panel: ``<kind>_metadata`` merged into the top."""
    out = {k: v for k, v in panel.items() if k != f"{kind}_metadata"}
    out.update(panel.get(f"{kind}_metadata", {}))
    return out
