"""deploy/kubernetes/: the base and its overlays render (tests/support/kustomize.py, checked
against `kubectl kustomize` where it is installed), every manifest is valid against the
Kubernetes schemas (kubernetes-validate bundles them: offline), and they keep what the
service needs on more than one machine."""

import re
import secrets

import kubernetes_validate
import pytest
import yaml

from tests.support.deploy import manage
from tests.support.kustomize import (
    KUBERNETES,
    containers,
    key,
    kubectl_kustomize,
    pod_spec,
    render,
)
from tests.support.processes import BASE_DIR
from tests.support.proxy import proxy_body_limit

FOLDERS = [KUBERNETES / "base", *sorted((KUBERNETES / "overlays").iterdir())]
MIB = 1024**2
# A pool process's own memory beside its task's (Python, Django, the libraries loaded).
POOL_PROCESS_OWN_MIB = 200


def by_key(folder) -> dict:
    return {key(manifest): manifest for manifest in render(folder)}


def env_of(manifests: dict) -> dict:
    """What every pod reads: the ConfigMap and the Secret."""
    config = manifests["ConfigMap", "live-files-config"]["data"]
    secret = manifests["Secret", "live-files-secrets"]["stringData"]
    return {**config, **secret}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_every_manifest_is_valid_kubernetes(folder):
    manifests = render(folder)
    assert manifests
    for manifest in manifests:
        try:
            kubernetes_validate.validate(
                manifest, kubernetes_validate.latest_version(), strict=True
            )
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{key(manifest)}: {error.message} at {list(error.path)}")


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_the_suites_renderer_renders_as_kubectl_does(folder):
    theirs = kubectl_kustomize(folder)
    if theirs is None:
        pytest.skip("kubectl is not installed")
    assert {key(m): m for m in theirs} == by_key(folder)


def test_the_base_runs_every_process_kind_from_the_image():
    manifests = by_key(KUBERNETES / "base")
    kinds = {k for k in manifests}
    for needed in [
        ("Deployment", "live-files-web"),
        ("Service", "live-files-web"),
        ("Deployment", "live-files-worker"),
        ("Deployment", "live-files-beat"),
        ("Job", "live-files-migrate"),
        ("Ingress", "live-files"),
        ("HorizontalPodAutoscaler", "live-files-web"),
        ("HorizontalPodAutoscaler", "live-files-worker"),
        ("PodDisruptionBudget", "live-files-web"),
        ("PodDisruptionBudget", "live-files-worker"),
    ]:
        assert needed in kinds, needed
    beat = manifests["Deployment", "live-files-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"] == {"type": "Recreate"}
    assert ("HorizontalPodAutoscaler", "live-files-beat") not in kinds
    [web] = containers(manifests["Deployment", "live-files-web"])
    assert "command" not in web  # the image's uvicorn line (tests/ops/test_deploy.py)
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    [migrate] = containers(manifests["Job", "live-files-migrate"])
    assert migrate["command"][-2:] == ["migrate", "--noinput"]


def test_pods_run_as_non_root_on_a_read_only_root_with_writable_paths_mounted():
    for manifest in render(KUBERNETES / "base"):
        pod = pod_spec(manifest)
        if pod is None:
            continue
        assert pod["securityContext"]["runAsNonRoot"] is True, key(manifest)
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in containers(manifest):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, key(manifest)
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            mounted = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
            assert "emptyDir" in mounted["/tmp"], key(manifest)
            if manifest["kind"] == "Deployment" and "beat" not in manifest["metadata"]["name"]:
                assert "emptyDir" in mounted["/data/media"], key(manifest)  # MEDIA_ROOT


def test_files_are_in_s3_not_on_a_volume_pods_would_share():
    manifests = by_key(KUBERNETES / "base")
    assert not [k for k in manifests if k[0] in ("PersistentVolumeClaim", "PersistentVolume")]
    assert env_of(manifests)["AWS_STORAGE_BUCKET_NAME"]


def memory_mib(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()
    return int(number) * (1024 if unit == "Gi" else 1)


def test_the_workers_memory_limit_holds_every_pool_process_at_its_processing_limit():
    """Past PROCESSING_MEMORY_LIMIT a file ends FAILED; the pod's limit must sit above what
    --concurrency pool processes at that limit hold, or the kernel kills the pod first."""
    manifests = by_key(KUBERNETES / "base")
    [worker] = containers(manifests["Deployment", "live-files-worker"])
    concurrency = int(worker["command"][worker["command"].index("--concurrency") + 1])
    per_task = int(env_of(manifests)["PROCESSING_MEMORY_LIMIT"])
    limit = memory_mib(worker["resources"]["limits"]["memory"])
    assert limit >= concurrency * (per_task + POOL_PROCESS_OWN_MIB), (limit, concurrency)
    assert memory_mib(worker["resources"]["requests"]["memory"]) <= limit


def test_the_workers_liveness_is_compose_healthcheck_and_names_its_own_worker():
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    compose_check = compose["services"]["worker"]["healthcheck"]["test"][1].replace("$$", "$")
    [worker] = containers(by_key(KUBERNETES / "base")["Deployment", "live-files-worker"])
    assert worker["livenessProbe"]["exec"]["command"] == ["sh", "-c", compose_check]


def test_the_ingress_streams_bodies_passes_websockets_and_caps_the_apps_largest_request():
    manifests = by_key(KUBERNETES / "base")
    annotations = manifests["Ingress", "live-files"]["metadata"]["annotations"]
    nginx = {k.split("/", 1)[1]: v for k, v in annotations.items()}
    assert nginx["proxy-request-buffering"] == "off"
    assert int(nginx["proxy-read-timeout"]) >= 3600 and int(nginx["proxy-send-timeout"]) >= 3600
    env = env_of(manifests)
    largest = proxy_body_limit({k: env[k] for k in ("MAX_UPLOAD_SIZE", "MAX_FILES_PER_REQUEST")})
    assert int(nginx["proxy-body-size"].removesuffix("m")) * MIB == largest


def test_the_settings_of_the_configmap_and_secret_pass_check_deploy():
    """The base's settings load in production mode and pass Django's deployment checks (with
    a real key in place of the placeholder, which the service refuses; the database is not
    reached)."""
    env = env_of(by_key(KUBERNETES / "base"))
    assert env["SECRET_KEY"] == "change-me"
    env = {**env, "SECRET_KEY": secrets.token_urlsafe(50), "DATABASE_URL": "sqlite:///:memory:"}
    result = manage("check", "--deploy", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # Left to the site's owner: whether every subdomain is HTTPS-only, and the preload list.
    warnings = set(re.findall(r"\((\w+\.W\d+)\)", result.stdout + result.stderr))
    assert warnings <= {"security.W005", "security.W021"}, result.stdout + result.stderr


def test_the_rabbitmq_overlay_changes_the_broker_only():
    base, rabbit = by_key(KUBERNETES / "base"), by_key(KUBERNETES / "overlays" / "rabbitmq")
    assert env_of(rabbit)["CELERY_BROKER_URL"].startswith("amqp")
    assert env_of(rabbit)["CHANNEL_REDIS_HOSTS"] == env_of(base)["CHANNEL_REDIS_HOSTS"]
    changed = {k for k in base if base[k] != rabbit[k]}
    assert changed == {("Secret", "live-files-secrets")} and base.keys() == rabbit.keys()
