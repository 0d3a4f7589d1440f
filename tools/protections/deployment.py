"""docs/reliability.md items 38–39. Deployment: compose as written, Kubernetes."""

from tools.protections.paths import COMPOSE
from tools.protections.runner import Protection

STORAGE_SETTINGS = "project/settings/storage.py"
STATIC_TESTS = "tests/ops/test_static_files.py"
HEALTH_TESTS = "tests/ops/test_compose_health.py"
KUBERNETES_TESTS = "tests/ops/test_kubernetes.py"
WORKER = "deploy/kubernetes/base/worker.yaml"
BEAT = "deploy/kubernetes/base/beat.yaml"

PROTECTIONS = [
    Protection(
        "38 compose: static files collected world-readable",
        [
            (
                STORAGE_SETTINGS,
                '"OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755}',
                '"OPTIONS": {}',
            )
        ],
        [f"{STATIC_TESTS}::test_the_images_collected_static_files_are_world_readable"],
    ),
    Protection(
        "38 compose: the worker's healthcheck names it without HOSTNAME",
        [(COMPOSE, "celery@$$(hostname) --timeout 5", "celery@$$HOSTNAME --timeout 5")],
        [f"{HEALTH_TESTS}::test_the_workers_healthcheck_pings_its_own_worker_without_hostname_set"],
    ),
    Protection(
        "39 kubernetes: the worker's memory limit holds its tasks at their limit",
        [(WORKER, "              memory: 2560Mi\n", "              memory: 1536Mi\n")],
        [
            f"{KUBERNETES_TESTS}::"
            "test_the_workers_memory_limit_holds_every_pool_process_at_its_processing_limit"
        ],
    ),
    Protection(
        "39 kubernetes: one beat, recreated",
        [(BEAT, "    type: Recreate\n", "    type: RollingUpdate\n")],
        [f"{KUBERNETES_TESTS}::test_the_base_runs_every_process_kind_from_the_image"],
    ),
]
