"""The deployment checks import `bench.rollout` (its HAProxy configuration): make the repository
root importable, as tests/bench/conftest.py does for the benchmark tests."""

from __future__ import annotations

import sys

from deploykit import REPO

if str(REPO) not in sys.path:
    sys.path.append(str(REPO))
