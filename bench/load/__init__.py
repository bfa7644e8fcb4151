"""Load scenarios (`locustfile.py` at the repository root drives them) and the chaos run.

- `data`: Zipf-distributed picks, the search query mix (the evaluation set, typos added), the
  simulator accounts the binge watchers log in with;
- `users`: the weighted Locust user classes; `shapes`: steady, ramp, spike and soak;
- `events`: every request's outcome as a JSON line, for the chaos run's analysis;
- `stack`, `faults`, `scrape`, `analysis`: the chaos run's pieces (`python -m bench.chaos`);
- `report`: plots and `docs/load-report.md` from a run's data (`make load-report`).
"""
