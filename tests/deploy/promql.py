"""The metric names a PromQL expression reads, for checking rules and panels against a scrape.

Not a PromQL parser: strings, label matchers, grouping clauses and range selectors are removed,
then every remaining identifier that is not a function call, a keyword or a number is a metric
(or a recording rule) name. `tests/deploy/test_deploy_prometheus.py` tests it on known
expressions, so a change in how we write queries cannot make it silently see nothing.
"""

from __future__ import annotations

import re

__all__ = ["metric_names"]

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"bool", "offset", "inf", "nan", "le"}
)


def metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, templates)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors and subqueries ($__rate_interval)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word.lower() in _KEYWORDS:
            continue
        names.add(word)
    return names
