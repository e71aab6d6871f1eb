"""Kubernetes manifests: strict schema validation, rendered overlays, and their wiring."""

import base64
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli import ALL
from tests.deploy.kustomize import containers, load_docs, pod_specs, render
from tests.deploy.settings_env import PROCESSES, all_env_names, env_names

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"
SERVICES = ("partners", "funding", "feedback")
PORTS = {"gateway": 8000, "partners": 8001, "funding": 8002, "feedback": 8003}


def kubernetes_validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "kubernetes-validate"
    return subprocess.run(
        [str(tool), "--strict", "--quiet", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def manifest_files() -> list[Path]:
    """Every YAML file under deploy/k8s that is a whole resource (not a kustomization or patch)."""
    patches: set[Path] = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        for patch in yaml.safe_load(kustomization.read_text()).get("patches", []):
            if "path" in patch:
                patches.add((kustomization.parent / patch["path"]).resolve())
    files = [
        p
        for p in sorted(K8S.rglob("*.yaml"))
        if p.name != "kustomization.yaml" and p.resolve() not in patches
    ]
    assert len(files) >= 6
    return files


def test_every_manifest_file_validates_strictly() -> None:
    result = kubernetes_validate(*manifest_files())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay-example"])
def test_rendered_kustomize_output_validates_strictly(directory: Path, tmp_path: Path) -> None:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(render(directory), sort_keys=False))
    result = kubernetes_validate(rendered)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay-example"])
def test_renderer_matches_kubectl_kustomize(directory: Path) -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"kubectl kustomize is not usable here: {result.stderr.strip()[:200]}")

    def key(obj: dict[str, Any]) -> tuple[str, str]:
        return obj["kind"], obj["metadata"]["name"]

    theirs = sorted((d for d in yaml.safe_load_all(result.stdout) if d), key=key)
    assert sorted(render(directory), key=key) == theirs


@pytest.fixture(scope="module")
def overlay() -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in render(OVERLAY)}


def by_kind(objects: dict[tuple[str, str], dict[str, Any]], kind: str) -> dict[str, Any]:
    return {name: obj for (k, name), obj in objects.items() if k == kind}


def test_each_process_has_deployment_service_autoscaler_and_disruption_budget(overlay) -> None:
    deployments = by_kind(overlay, "Deployment")
    for name in PROCESSES:
        deployment = deployments[name]
        assert deployment["metadata"]["namespace"] == "trellis"
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
        service = overlay[("Service", name)]
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        assert service["spec"]["ports"][0]["port"] == PORTS[name]
        hpa = overlay[("HorizontalPodAutoscaler", name)]
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert hpa["spec"]["minReplicas"] >= 2
        pdb = overlay[("PodDisruptionBudget", name)]
        assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "trellis"
        assert set(deployment["spec"]["selector"]["matchLabels"].items()) <= set(labels.items())


def test_containers_have_probes_resources_and_run_unprivileged(overlay) -> None:
    for name in PROCESSES:
        pod = overlay[("Deployment", name)]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        main = next(c for c in pod["containers"] if c["name"] == name)
        assert main["args"] == ["serve", name]
        assert main["image"] == "registry.example.org/trellis:0.1.0"
        assert main["ports"][0]["containerPort"] == PORTS[name]
        assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for container in containers(pod):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"])
            assert {"cpu", "memory"} <= set(resources["limits"])
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_a_migration_job_per_service_and_pods_wait_for_it(overlay) -> None:
    jobs = by_kind(overlay, "Job")
    for name in SERVICES:
        job = jobs[f"migrate-{name}"]
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["migrate", name]
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        init = overlay[("Deployment", name)]["spec"]["template"]["spec"]["initContainers"][0]
        assert init["command"][:3] == ["python", "/app/deploy/wait_for_migrations.py", name]
    assert (ROOT / "deploy" / "wait_for_migrations.py").exists()


def test_ingress_reaches_only_the_gateway_and_not_its_internals(overlay) -> None:
    ingress = overlay[("Ingress", "gateway")]
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "trellis.example.org"
    assert ingress["spec"]["tls"][0]["hosts"] == ["trellis.example.org"]
    paths = {p["path"] for p in rule["http"]["paths"]}
    assert "/api" in paths and "/.well-known" in paths and "/oauth" in paths
    assert "/account" in paths  # the pages people open from invitation and reset emails
    assert not paths & {"/", "/metrics", "/healthz", "/readyz", "/internal"}
    for path in rule["http"]["paths"]:
        assert path["backend"]["service"]["name"] == "gateway"


def test_prometheus_scrapes_each_process_where_metrics_are_open(overlay) -> None:
    """Services serve /metrics on their own (cluster-internal) port; the gateway, whose
    port is public, on its internal metrics port, which its Service does not expose."""
    for name in PROCESSES:
        template = overlay[("Deployment", name)]["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/path"] == "/metrics"
        main = next(c for c in template["spec"]["containers"] if c["name"] == name)
        env = environment(overlay, template["spec"], main)
        scraped = int(annotations["prometheus.io/port"])
        assert scraped in {p["containerPort"] for p in main["ports"]}
        if name == "gateway":
            assert scraped == int(env["TRELLIS_GATEWAY_METRICS_PORT"]) != PORTS[name]
            assert env["TRELLIS_GATEWAY_METRICS_HOST"] == "0.0.0.0"
            service_ports = overlay[("Service", name)]["spec"]["ports"]
            assert [p["port"] for p in service_ports] == [PORTS[name]]
        else:
            assert scraped == PORTS[name]


def environment(objects: dict, pod: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """What a container's process sees: its ConfigMaps and Secrets (decoded) and env."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(objects[("ConfigMap", source["configMapRef"]["name"])]["data"])
        if "secretRef" in source:
            secret = objects[("Secret", source["secretRef"]["name"])]["data"]
            env.update({k: base64.b64decode(v).decode() for k, v in secret.items()})
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def test_config_and_secrets_wire_each_service_and_name_only_real_settings(overlay) -> None:
    known = all_env_names()
    for (kind, _), obj in overlay.items():
        if kind in {"ConfigMap", "Secret"} and "signing-keys" not in obj["metadata"]["name"]:
            unknown = set(obj["data"]) - known
            assert not unknown, f"{kind} names variables no Settings class reads: {unknown}"
    for name in PROCESSES:
        pod = overlay[("Deployment", name)]["spec"]["template"]["spec"]
        main = next(c for c in pod["containers"] if c["name"] == name)
        env = environment(overlay, pod, main)
        prefix = f"TRELLIS_{name.upper()}_"
        assert env[f"{prefix}HOST"] == "0.0.0.0"
        assert env[f"{prefix}PORT"] == str(PORTS[name])
        for upstream in SERVICES:
            assert env[f"TRELLIS_{upstream.upper()}_URL"] == f"http://{upstream}:{PORTS[upstream]}"
        assert env["TRELLIS_AUTH_ISSUER"] == "https://trellis.example.org"
        keys_file = Path(env["TRELLIS_AUTH_SIGNING_KEYS_FILE"])
        mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
        assert str(keys_file.parent) == mounts["signing-keys"]
        volume = next(v for v in pod["volumes"] if v["name"] == "signing-keys")
        keys_secret = overlay[("Secret", volume["secret"]["secretName"])]
        assert keys_file.name in keys_secret["data"]
        if name in SERVICES:
            assert env[f"{prefix}DATABASE_URL"].startswith(f"postgresql://{name}:")
            assert f"{prefix}EVENT_SUBSCRIBERS" in env
            # The database URL is a secret: in the service's own Secret, not the ConfigMap.
            config = next(
                o for (k, _), o in overlay.items() if k == "ConfigMap" and "trellis-config" in _
            )
            assert f"{prefix}DATABASE_URL" not in config["data"]
            job = overlay[("Job", f"migrate-{name}")]["spec"]["template"]["spec"]
            job_env = environment(overlay, job, job["containers"][0])
            assert job_env[f"{prefix}DATABASE_URL"] == env[f"{prefix}DATABASE_URL"]
        # Everything the process reads is either set here or has a default that suits a pod.
        for variable in env_names(name):
            assert variable in env or variable in NOT_NEEDED_IN_KUBERNETES, (
                f"{variable} ({name}) is neither set in deploy/k8s (ConfigMap trellis-config or "
                "the service's Secret) nor listed as fine by default in tests/deploy/test_manifests.py"
            )


# Settings whose built-in default suits a pod (tuning knobs), or that only an
# external identity provider needs (documented in deploy/README.md).
NOT_NEEDED_IN_KUBERNETES = {
    "TRELLIS_SERVICE_CLIENT_SECRET",
    # Kubernetes migrates in its own Job before the pods start (trellis up sets it).
    "TRELLIS_MIGRATE_ON_START",
    *(
        f"TRELLIS_{s.upper()}_{knob}"
        for s in SERVICES
        for knob in (
            "OUTBOX_POLL_INTERVAL",
            "OUTBOX_MAX_BACKOFF",
            "OUTBOX_PROBE_INTERVAL",
            "OUTBOX_BACKLOG_ALERT_AFTER",
            "MAX_PAGE_SIZE",
            "LIST_EXACT_COUNT_LIMIT",
            "LIST_ANCHOR_EVERY",
        )
    ),
    "TRELLIS_PARTNERS_CLIENT_TOKEN_TTL",
    # Bank details: an operator adds its keys to the partners Secret (deploy/README.md).
    "TRELLIS_PARTNERS_BANK_KEYS",
    "TRELLIS_PARTNERS_BANK_KEY_ID",
    "TRELLIS_PARTNERS_BANK_CHANGE_HOLD_HOURS",
    # People's sign-in: lifetimes, the console's addresses (made from the issuer), extra
    # OIDC clients and external providers, and the public URL (the issuer by default).
    *(
        f"TRELLIS_PARTNERS_{knob}"
        for knob in (
            "ACCESS_TOKEN_TTL",
            "ID_TOKEN_TTL",
            "SESSION_TTL",
            "AUTHORIZATION_CODE_TTL",
            "INVITATION_TTL",
            "PASSWORD_RESET_TTL",
            "CONSOLE_REDIRECT_URIS",
            "CONSOLE_POST_LOGOUT_REDIRECT_URIS",
            "OIDC_CLIENTS",
            "EXTERNAL_IDPS",
        )
    ),
    # Webhooks: the defaults (public HTTPS only, capped backoff) suit a pod.
    *(
        f"TRELLIS_PARTNERS_WEBHOOKS_{knob}"
        for knob in (
            "ALLOW_PRIVATE_ADDRESSES",
            "TIMEOUT",
            "MAX_ATTEMPTS",
            "MAX_BACKOFF",
            "DISABLE_AFTER",
            "SECRET_OVERLAP",
            "POLL_INTERVAL",
            "AUTOSTART",
        )
    ),
    "TRELLIS_PUBLIC_URL",
    "TRELLIS_FUNDING_OVERDUE_CHECK_INTERVAL",
    "TRELLIS_FUNDING_OVERDUE_CHECK_AUTOSTART",
    "TRELLIS_FUNDING_DUE_SOON_DAYS",
    # Email notifications: the defaults (a digest at 08:00 UTC, reminders after 14 days
    # unless the funder publishes its own promise) suit a pod.
    *(
        f"TRELLIS_PARTNERS_NOTIFICATIONS_{knob}"
        for knob in (
            "DIGEST_HOUR",
            "REPLY_WITHIN_DAYS",
            "ROUND_CLOSING_DAYS",
            "POLL_INTERVAL",
            "SCAN_INTERVAL",
            "MAX_ATTEMPTS",
            "AUTOSTART",
        )
    ),
    "TRELLIS_GATEWAY_CONNECT_TIMEOUT",
    "TRELLIS_GATEWAY_MAX_CONNECTIONS",
    "TRELLIS_GATEWAY_OPENAPI_CACHE_SECONDS",
    "TRELLIS_GATEWAY_READINESS_TIMEOUT",
    "TRELLIS_GATEWAY_RATE_LIMITS_ENABLED",
    "TRELLIS_GATEWAY_RATE_LIMITS",
    "TRELLIS_GATEWAY_SOURCE_RATE_LIMITS",
    "TRELLIS_GATEWAY_RATE_LIMIT_BATCH",
    "TRELLIS_GATEWAY_RATE_LIMIT_STORE_TIMEOUT",
    "TRELLIS_PARTNERS_TOKEN_FAILURE_LIMITS",
    "TRELLIS_PARTNERS_TOKEN_FAILURE_LIMITS_PER_SOURCE",
    "TRELLIS_PARTNERS_SIGNIN_FAILURE_LIMITS",
    "TRELLIS_PARTNERS_SIGNIN_FAILURE_LIMITS_PER_SOURCE",
    "TRELLIS_REVOCATION_RETENTION",
    "TRELLIS_REVOCATION_MAX_STALENESS",
    "TRELLIS_GATEWAY_TAKEOUT_KEEP_HOURS",
    "TRELLIS_GATEWAY_REPLY_WITHIN_DAYS",
    # Unset, / is a page of links; the console's image build sets it when it ships.
    "TRELLIS_GATEWAY_CONSOLE_DIR",
    "TRELLIS_GATEWAY_REQUEST_DEADLINE",
    "TRELLIS_GATEWAY_METRICS_TOKEN",
}


def test_images_name_commands_the_cli_has(overlay) -> None:
    for obj in overlay.values():
        for pod in pod_specs(obj):
            for container in pod.get("containers", []):
                args = container.get("args", [])
                assert args[0] in {"serve", "migrate"}
                assert args[1] in ALL


def test_base_files_parse_and_name_no_secret_values() -> None:
    for path in sorted(BASE.glob("*.yaml")):
        for doc in load_docs(path):
            assert doc.get("kind") != "Secret", f"{path.name}: Secrets belong in an overlay"
    text = (BASE / "kustomization.yaml").read_text()
    assert "DATABASE_URL" not in text and "CLIENT_SECRET" not in text
