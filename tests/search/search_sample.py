"""A small hand-made catalog: enough titles in every language to pin down ranking rules."""

from __future__ import annotations

from kensho.search import SearchRecord

KEY = b"test-cursor-key-0123456789abcdef"

RECORDS = (
    SearchRecord(
        "mal:16498",
        (
            ("romaji", "Shingeki no Kyojin"),
            ("ja", "進撃の巨人"),
            ("en", "Attack on Titan"),
            ("zh-Hans", "进击的巨人"),
            ("zh-Hant", "進擊的巨人"),
        ),
        "tv",
        ("action", "drama"),
        896_229,
        7.5,
    ),
    SearchRecord(
        "mal:25777",
        (("romaji", "Shingeki no Kyojin Season 2"), ("ja", "進撃の巨人 Season2")),
        "tv",
        ("action",),
        400_000,
    ),
    SearchRecord("mal:18397", (("romaji", "Shingeki no Kyojin OVA"),), "ova", ("action",), 150_000),
    SearchRecord(
        "mal:9253",
        (("romaji", "Steins;Gate"), ("zh-Hans", "命运石之门")),
        "tv",
        ("sci-fi", "thriller"),
        673_572,
    ),
    SearchRecord("mal:30484", (("romaji", "Steins;Gate 0"),), "tv", ("sci-fi",), 100_000),
    SearchRecord(
        "mal:11757",
        (
            ("romaji", "Sword Art Online"),
            ("ja", "ソードアート・オンライン"),
            ("zh-Hans", "刀剑神域"),
        ),
        "tv",
        ("action", "romance"),
        893_100,
    ),
    SearchRecord(
        "mal:5680", (("romaji", "K-On!"), ("ja", "けいおん！")), "tv", ("comedy", "music"), 386_048
    ),
    SearchRecord(
        "mal:32281",
        (("romaji", "Kimi no Na wa."), ("ja", "君の名は。"), ("en", "Your Name.")),
        "movie",
        ("drama", "romance"),
        200_630,
    ),
    SearchRecord(
        "mal:2966",
        (("romaji", "Ookami to Koushinryou"), ("ja", "狼と香辛料")),
        "tv",
        ("adventure",),
        334_932,
    ),
    SearchRecord(
        "mal:10620",
        (("romaji", "Mirai Nikki (TV)"), ("ja", "未来日記")),
        "tv",
        ("mystery",),
        657_190,
    ),
    SearchRecord("mal:8460", (("romaji", "Mirai Nikki"),), "ova", ("mystery",), 90_000),
    # Many "Gate" titles, so a query has enough results to page through.
    *(
        SearchRecord(
            f"x:{i:03d}", ((("romaji", f"Gate Keeper {i}"),)), "ona", ("action",), 1000 + i
        )
        for i in range(40)
    ),
)
