"""The bundled anime catalog and the seasons/episodes derived from it."""

from kensho.catalog.bundle import Catalog, CatalogEntry, Title, load_catalog, read_bundle
from kensho.catalog.derive import SeasonPlan, episode_id, season_id, seasons_for

__all__ = [
    "Catalog",
    "CatalogEntry",
    "SeasonPlan",
    "Title",
    "episode_id",
    "load_catalog",
    "read_bundle",
    "season_id",
    "seasons_for",
]
