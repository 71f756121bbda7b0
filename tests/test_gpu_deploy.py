"""The GPU worker deploys: its base model verified (or fetched) into a persistent volume by
``manage.py gpu_model``, the Kubernetes and compose manifests wire that volume, the model
path and a readiness check on the worker's registration."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from generation.backends.gpu.model_files import MANIFEST, sha256_file
from generation.routing import gpu_worker_heartbeat

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "platform" / "k8s"


def _run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("gpu_model", *args, stdout=out)
    return out.getvalue()


# --- Kubernetes -------------------------------------------------------------------------


def _rendered() -> list[dict]:
    """The manifests as ``kubectl apply -k`` would send them (kustomize when installed, else
    the listed files with the kustomization's namespace)."""
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "kustomize", str(K8S)], check=True,
                             capture_output=True, text=True, timeout=120).stdout
        return [d for d in yaml.safe_load_all(out) if d]
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


def _gpu_deployment(docs: list[dict]) -> dict:
    found = [d for d in docs if d["kind"] == "Deployment"
             and d["metadata"]["name"] == "likeness-worker-gpu"]
    assert len(found) == 1  # once: not also left in workers.yaml
    return found[0]["spec"]["template"]["spec"]


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_the_kubernetes_gpu_worker_keeps_its_model_on_a_persistent_volume():
    docs = _rendered()
    assert "gpu-worker.yaml" in yaml.safe_load((K8S / "kustomization.yaml").read_text())[
        "resources"]
    pod = _gpu_deployment(docs)
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = volumes["models"]["persistentVolumeClaim"]["claimName"]
    assert claim in claims and "emptyDir" not in volumes["models"]
    worker = next(c for c in pod["containers"] if c["name"] == "worker")
    init = next(c for c in pod["initContainers"] if c["name"] == "base-model")
    for container in (worker, init):
        assert _env(container)["GPU_BASE_MODEL_PATH"] == "/models/base"
        assert _env(container)["HF_HUB_OFFLINE"] == "1"  # never a hub
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["models"] == "/models"
    assert "manage.py gpu_model verify" in " ".join(init["command"])
    assert "manage.py gpu_model fetch" in " ".join(init["command"])
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    probe = worker["readinessProbe"]["exec"]["command"]
    assert probe[-3:] == ["manage.py", "gpu_model", "ready"][-3:] and "ready" in probe
    assert worker["startupProbe"]["exec"]["command"] == probe


# --- Compose --------------------------------------------------------------------------


class _ComposeLoader(yaml.SafeLoader):
    """Compose's own tags (``!reset``) read as plain values."""


_ComposeLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    suffix, loader.construct_mapping(node) if isinstance(node, yaml.MappingNode)
    else loader.construct_scalar(node)))


def _compose(name: str) -> dict:
    return yaml.load((ROOT / "platform" / name).read_text(), Loader=_ComposeLoader)


def test_the_compose_gpu_worker_verifies_its_model_volume_first_and_reports_registration():
    compose = _compose("compose.yaml")
    services = compose["services"]
    worker, model = services["worker-gpu"], services["gpu-model"]
    assert "models" in compose["volumes"]  # a named volume: kept across restarts
    for service in (worker, model):
        assert "models:/models" in service["volumes"]
        assert service["environment"]["GPU_BASE_MODEL_PATH"] == "${GPU_BASE_MODEL_PATH:-/models/base}"
        assert service["profiles"] == ["gpu"]
    assert "gpu_model verify" in model["command"][0] and "gpu_model fetch" in model["command"][0]
    assert worker["depends_on"]["gpu-model"] == {"condition": "service_completed_successfully"}
    assert worker["healthcheck"]["test"] == ["CMD", "python", "manage.py", "gpu_model", "ready"]
    tiny = _compose("compose.tiny-gpu.yaml")["services"]
    assert tiny["worker-gpu"]["environment"]["GPU_BASE_MODEL_PATH"] == "tiny:sd"
    assert tiny["gpu-model"]["environment"]["GPU_BASE_MODEL_PATH"] == "tiny:sd"
    assert tiny["worker-gpu"]["deploy"][0] == "reset"  # no GPU reservation on the CPU


# --- manage.py gpu_model, with the tiny model -----------------------------------------


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    """A tiny SD pipeline saved as a diffusers folder with its manifest: the approved model
    as a mirror (or the copy an air-gapped cluster carries in) would hold it."""
    pytest.importorskip("diffusers")
    from generation.backends.gpu.tiny import tiny_pipeline

    folder = tmp_path_factory.mktemp("mirror") / "base"
    tiny_pipeline("sd").save_pretrained(folder)
    call_command("gpu_model", "manifest", "--path", str(folder))
    return folder


def test_fetch_copies_the_model_into_the_volume_and_it_verifies_and_loads(mirror, tmp_path):
    volume = tmp_path / "models" / "base"
    out = _run("fetch", "--path", str(volume), "--source", str(mirror))
    assert "verified" in out and (volume / MANIFEST).is_file()
    assert "loads as StableDiffusionPipeline" in _run("verify", "--path", str(volume), "--load")
    # Fetching again keeps what is already right (a resumed fetch copies only the rest).
    weights = next(volume.rglob("*.safetensors"))
    before = weights.stat().st_mtime_ns
    _run("fetch", "--path", str(volume), "--source", f"file://{mirror}")
    assert weights.stat().st_mtime_ns == before


def test_verify_refuses_a_changed_or_missing_file(mirror, tmp_path):
    volume = tmp_path / "base"
    shutil.copytree(mirror, volume)
    weights = next(volume.rglob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(CommandError, match="SHA-256 differs"):
        _run("verify", "--path", str(volume))
    weights.unlink()
    with pytest.raises(CommandError, match="missing"):
        _run("verify", "--path", str(volume))
    with pytest.raises(CommandError, match="no likeness-manifest.json"):
        _run("verify", "--path", str(tmp_path / "empty"))


def test_a_pinned_manifest_refuses_any_other_model(mirror, tmp_path, settings):
    settings.GPU_BASE_MODEL_MANIFEST_SHA256 = "0" * 64
    with pytest.raises(CommandError, match="not the approved model"):
        _run("fetch", "--path", str(tmp_path / "base"), "--source", str(mirror))
    assert not (tmp_path / "base").exists()  # nothing copied from an unapproved source
    settings.GPU_BASE_MODEL_MANIFEST_SHA256 = sha256_file(mirror / MANIFEST)
    assert "verified" in _run("fetch", "--path", str(tmp_path / "base"), "--source", str(mirror))


def test_fetch_is_refused_without_a_configured_source(tmp_path, settings):
    settings.GPU_BASE_MODEL_SOURCE = ""
    with pytest.raises(CommandError, match="GPU_BASE_MODEL_SOURCE is not set"):
        _run("fetch", "--path", str(tmp_path / "base"))


def test_the_tiny_model_needs_nothing_and_an_unset_path_is_not_a_gpu_worker(settings):
    settings.GPU_BASE_MODEL_PATH = "tiny:sd"
    assert "built in code" in _run("verify")
    settings.GPU_BASE_MODEL_PATH = ""
    with pytest.raises(CommandError, match="not a GPU worker"):
        _run("verify")


def test_ready_answers_only_once_the_worker_has_registered(settings):
    from django.core.cache import cache

    cache.clear()
    with pytest.raises(CommandError, match="not registered"):
        _run("ready", "--hostname", "gpu@node-1")
    gpu_worker_heartbeat(hostname="gpu@node-1")
    assert "is registered" in _run("ready", "--hostname", "gpu@node-1")
