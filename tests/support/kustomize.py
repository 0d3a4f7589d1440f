"""deploy/kubernetes/ rendered as `kubectl kustomize` renders it, for the subset of kustomize
the manifests use (resources, strategic-merge patches from files, images), so the suite needs
no kustomize binary: tests/ops/test_kubernetes.py compares the two where kubectl is installed."""

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.support.processes import BASE_DIR

KUBERNETES = BASE_DIR / "deploy" / "kubernetes"
UNDERSTOOD = {"apiVersion", "kind", "resources", "patches", "images"}


def key(manifest: dict) -> tuple[str, str]:
    return manifest["kind"], manifest["metadata"]["name"]


def render(folder: Path) -> list[dict]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(kustomization) - UNDERSTOOD
    assert not unknown, f"{folder}: this renderer does not know {sorted(unknown)}"
    manifests = []
    for resource in kustomization.get("resources", []):
        path = folder / resource
        if path.is_dir():
            manifests += render(path)
        else:
            manifests += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for patch in kustomization.get("patches", []):
        assert set(patch) == {"path"}, f"{folder}: only patches from a file: {patch}"
        for change in yaml.safe_load_all((folder / patch["path"]).read_text()):
            [target] = [m for m in manifests if key(m) == key(change)]
            merge(target, change)
    for image in kustomization.get("images", []):
        for manifest in manifests:
            for container in containers(manifest):
                if container["image"].split(":")[0] == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    return manifests


def merge(target: dict, change: dict) -> None:
    """A strategic merge patch: maps merged key by key, lists of named items by name, other
    lists replaced."""
    for name, value in change.items():
        old = target.get(name)
        if isinstance(old, dict) and isinstance(value, dict):
            merge(old, value)
        elif (
            isinstance(old, list)
            and isinstance(value, list)
            and all(isinstance(item, dict) and "name" in item for item in old + value)
        ):
            by_name = {item["name"]: item for item in old}
            for item in value:
                if item["name"] in by_name:
                    merge(by_name[item["name"]], item)
                else:
                    old.append(item)
        else:
            target[name] = value


def pod_spec(manifest: dict) -> dict | None:
    spec = manifest.get("spec", {})
    if manifest["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        return spec["template"]["spec"]
    return None


def containers(manifest: dict) -> list[dict]:
    pod = pod_spec(manifest)
    return (pod.get("initContainers", []) + pod["containers"]) if pod else []


def kubectl_kustomize(folder: Path) -> list[dict] | None:
    """kubectl's own rendering, or None where kubectl is not installed."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return None
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, check=True
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
