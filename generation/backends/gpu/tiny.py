"""Tiny random SD / SDXL pipelines built from configs in code, without any download.

They have the real pipelines' structure (UNet with cross-attention, VAE with the usual 8×
latent factor, CLIP text encoder(s) and tokenizer(s), the usual schedulers) at a few hundred
thousand parameters, so the whole LoRA path (train, checkpoint, resume, save, load, generate)
runs on a CPU in seconds. Used by the tests, by the GPU benchmark's tiny mode and by a worker
whose ``GPU_BASE_MODEL_PATH`` is ``tiny:sd`` / ``tiny:sdxl`` (smoke tests without a GPU).
The images they make are noise-like: they test plumbing, never quality.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline

SAMPLE_PX = 64  # default image side; the latent is SAMPLE_PX // 8
LATENT_FACTOR = 8
HIDDEN = 32  # text encoder width (each encoder)
TIME_EMBED_DIM = 8  # SDXL's addition_time_embed_dim (6 time ids)
SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")
# Whole-word merges for words that prompts use, so that a prompt is not only single
# characters (77 tokens would hold ~70 characters otherwise). Any text still tokenizes.
WORDS = ("a", "photo", "of", "ohwx", "person", "professional", "headshot", "portrait", "studio",
         "light", "lighting", "background", "white", "grey", "gray", "blue", "office", "suit",
         "shirt", "smiling", "corporate", "business", "neutral", "soft", "natural", "the", "and",
         "with", "in", "wearing", "blurry", "low", "quality")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte → printable character map (transformers 5 no longer
    exports it), so that every byte has a base token and any text can be encoded."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def tiny_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A CLIP-style BPE vocabulary and merges: every byte (alone and word-final), whole-word
    merges for ``WORDS``, then the two special tokens (last, as in CLIP)."""
    base = list(_bytes_to_unicode().values())
    tokens = base + [c + "</w>" for c in base]
    merges: list[tuple[str, str]] = []
    for word in WORDS:
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            left, right = parts[0], parts[1]
            merge = (left, right)
            if merge not in merges:
                merges.append(merge)
                tokens.append(left + right)
            parts = [left + right] + parts[2:]
    seen: set[str] = set()
    unique = [t for t in tokens if not (t in seen or seen.add(t))]
    vocab = {token: index for index, token in enumerate(unique + list(SPECIAL_TOKENS))}
    return vocab, merges


def tiny_tokenizer():
    from transformers import CLIPTokenizer

    vocab, merges = tiny_vocab()
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def _text_encoder(tokenizer, *, with_projection: bool):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, intermediate_size=37, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=77, projection_dim=HIDDEN,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, hidden_act="gelu", layer_norm_eps=1e-5)
    model = CLIPTextModelWithProjection(config) if with_projection else CLIPTextModel(config)
    return model.eval()


def _vae():
    from diffusers import AutoencoderKL

    # Four blocks: the real 8× latent factor, so sizes behave as with SD/SDXL.
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        block_out_channels=(8, 16, 16, 16), norm_num_groups=8, sample_size=SAMPLE_PX,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
    ).eval()


def _unet(*, sdxl: bool):
    from diffusers import UNet2DConditionModel

    common = dict(
        sample_size=SAMPLE_PX // LATENT_FACTOR, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), norm_num_groups=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    if not sdxl:
        return UNet2DConditionModel(**common, cross_attention_dim=HIDDEN, attention_head_dim=8).eval()
    return UNet2DConditionModel(
        **common, cross_attention_dim=2 * HIDDEN, attention_head_dim=(2, 4), use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=TIME_EMBED_DIM,
        projection_class_embeddings_input_dim=6 * TIME_EMBED_DIM + HIDDEN,
        transformer_layers_per_block=(1, 1)).eval()


def _scheduler(*, sdxl: bool, prediction_type: str):
    from diffusers import DDPMScheduler, EulerDiscreteScheduler

    common = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                  beta_schedule="scaled_linear", steps_offset=1, prediction_type=prediction_type)
    if sdxl:
        return EulerDiscreteScheduler(**common, timestep_spacing="leading")
    return DDPMScheduler(**common, clip_sample=False)


def tiny_pipeline(kind: Literal["sd", "sdxl"], *, seed: int = 0,
                  prediction_type: Literal["epsilon", "v_prediction"] = "epsilon") -> DiffusionPipeline:
    """A tiny random StableDiffusionPipeline (``"sd"``) or StableDiffusionXLPipeline
    (``"sdxl"``) on the CPU, 64 px by default, safety checker and watermark off.

    The same ``seed`` gives the same weights (the global RNG is forked, not changed), so a
    test can build a fresh pipeline that matches the one a LoRA was trained on.
    """
    import torch
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if kind not in ("sd", "sdxl"):
        raise ValueError(f"unknown tiny pipeline {kind!r}: use 'sd' or 'sdxl'")
    sdxl = kind == "sdxl"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tokenizer = tiny_tokenizer()
        text_encoder = _text_encoder(tokenizer, with_projection=False)
        parts = dict(vae=_vae(), text_encoder=text_encoder, tokenizer=tokenizer,
                     unet=_unet(sdxl=sdxl),
                     scheduler=_scheduler(sdxl=sdxl, prediction_type=prediction_type))
        if sdxl:
            tokenizer_2 = tiny_tokenizer()
            pipeline = StableDiffusionXLPipeline(
                **parts, tokenizer_2=tokenizer_2,
                text_encoder_2=_text_encoder(tokenizer_2, with_projection=True),
                add_watermarker=False)
        else:
            pipeline = StableDiffusionPipeline(
                **parts, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline
