"""Feature flags for gradual rollout: OpenFeature evaluation over configuration plus Redis.

`FeatureFlags` (service.py) is what the rest of the code uses; `definitions.py` lists every
flag; `model.py` holds the settings and the bucketing; `provider.py` is our OpenFeature
provider; `sync.py` follows the fleet's overrides in Redis.
"""

from kensho.flags.definitions import FLAGS, SEARCH_RANKING, parse_configured
from kensho.flags.model import FlagDefinition, FlagInputError, Setting, parse_setting
from kensho.flags.service import FeatureFlags, FlagsCollector, RedisUnavailable

__all__ = [
    "FLAGS",
    "SEARCH_RANKING",
    "FeatureFlags",
    "FlagDefinition",
    "FlagInputError",
    "FlagsCollector",
    "RedisUnavailable",
    "Setting",
    "parse_configured",
    "parse_setting",
]
