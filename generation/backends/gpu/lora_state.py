"""What a LoRA training writes to storage: its checkpoint (resumed by the next worker when
one is killed) and the trained weights in diffusers' format. Through Django's
``default_storage`` (local disk, S3); the keys come from core/storage.py."""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

if TYPE_CHECKING:
    import torch
    from diffusers import DiffusionPipeline

    from .lora import TrainConfig

log = logging.getLogger(__name__)
ADAPTER_NAME = "default"  # the name ``add_adapter`` uses when none is given
DIFFUSERS_WEIGHT_NAME = "pytorch_lora_weights.safetensors"  # what save/load_lora_weights use


def storage_replace(key: str, data: bytes) -> None:
    """Write ``key`` with ``data``; Django storages would otherwise save under a new name
    when the key exists. (Delete then save: storages have no atomic rename; a kill in the
    moment between loses the checkpoint, and that job's training starts over.)"""
    if default_storage.exists(key):
        default_storage.delete(key)
    saved = default_storage.save(key, ContentFile(data))
    if saved != key:
        raise RuntimeError(f"storage saved {key!r} as {saved!r}")


def checkpoint_save(key: str, *, step: int, unet: Any, optimizer: torch.optim.Optimizer,
                     config: TrainConfig) -> None:
    import torch
    from peft.utils import get_peft_model_state_dict

    lora = {name: tensor.detach().cpu() for name, tensor in get_peft_model_state_dict(unet).items()}
    buffer = io.BytesIO()
    torch.save({"step": step, "rank": config.rank, "alpha": config.alpha, "lora": lora,
                "optimizer": optimizer.state_dict()}, buffer)
    storage_replace(key, buffer.getvalue())


def checkpoint_resume(key: str, *, unet: Any, optimizer: torch.optim.Optimizer,
                       config: TrainConfig) -> int:
    """The step of the stored checkpoint, with its LoRA weights and optimizer state loaded;
    0 when there is none, or when it is unreadable or from another rank (logged; the
    training then starts over rather than failing the job)."""
    import torch
    from peft.utils import set_peft_model_state_dict

    if not default_storage.exists(key):
        return 0
    try:
        with default_storage.open(key, "rb") as handle:
            state = torch.load(io.BytesIO(handle.read()), map_location="cpu", weights_only=True)
        if (state["rank"], state["alpha"]) != (config.rank, config.alpha):
            raise ValueError(f"checkpoint has rank/alpha {state['rank']}/{state['alpha']}")
        result = set_peft_model_state_dict(unet, state["lora"], adapter_name=ADAPTER_NAME)
        if getattr(result, "unexpected_keys", None):
            raise ValueError(f"unexpected LoRA keys {result.unexpected_keys[:3]}")
        optimizer.load_state_dict(state["optimizer"])
        return int(state["step"])
    except Exception as error:  # any unusable checkpoint means "start over"
        log.warning("LoRA checkpoint %s is unusable (%s): training from scratch", key, error)
        return 0


def weights_save(pipeline: DiffusionPipeline, key: str) -> None:
    """The trained LoRA in diffusers' format (what ``load_lora_weights`` reads), with the
    adapter's config as metadata so that alpha survives the round trip."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    unet = pipeline.unet
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    metadata = unet.peft_config[ADAPTER_NAME].to_dict()
    with tempfile.TemporaryDirectory() as folder:
        type(pipeline).save_lora_weights(folder, unet_lora_layers=layers, safe_serialization=True,
                                         weight_name=DIFFUSERS_WEIGHT_NAME,
                                         unet_lora_adapter_metadata=metadata)
        storage_replace(key, (Path(folder) / DIFFUSERS_WEIGHT_NAME).read_bytes())
