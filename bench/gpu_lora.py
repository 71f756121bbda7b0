"""Benchmark for the GPU worker: per-person LoRA training on an SDXL UNet, then headshots.

Standalone (no Django). Builds the SDXL base UNet from its configuration, written out
below, with random weights (or loads real ones from ``--unet-path``, a local folder
only), then measures:

* a LoRA training step (peft, rank 16 on to_q/to_k/to_v/to_out.0, bf16 autocast on
  CUDA, AdamW on the LoRA parameters only, noise-prediction MSE) at 1024 px;
* generation: 30 Euler steps with classifier-free guidance at 1024 px in bf16, plus
  the SDXL VAE decode.

``--tiny`` runs the same code with a tiny UNet and VAE at 64 px, so it runs on a CPU
in seconds (tests/test_bench_gpu_lora.py). See bench/README.md for the figures.

    .venv/bin/python bench/gpu_lora.py                      # on a CUDA machine
    .venv/bin/python bench/gpu_lora.py --gradient-checkpointing --images 3
    .venv/bin/python bench/gpu_lora.py --tiny --device cpu  # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Never reach the Hugging Face hub: everything is built from configs in code.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

# stabilityai/stable-diffusion-xl-base-1.0, unet/config.json (values that differ from
# UNet2DConditionModel's defaults; the rest, e.g. addition_embed_type_num_heads=64,
# norm_num_groups=32, are the defaults).
SDXL_UNET_CONFIG = {
    "sample_size": 128,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "block_out_channels": (320, 640, 1280),
    "layers_per_block": 2,
    "transformer_layers_per_block": (1, 2, 10),
    "attention_head_dim": (5, 10, 20),
    "cross_attention_dim": 2048,
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    # 6 time ids x 256 + 1280 (pooled output of the second text encoder)
    "projection_class_embeddings_input_dim": 2816,
}

# stabilityai/stable-diffusion-xl-base-1.0, vae/config.json
SDXL_VAE_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 1024,
    "scaling_factor": 0.13025,
    "force_upcast": True,
}

# stabilityai/stable-diffusion-xl-base-1.0, scheduler/scheduler_config.json
SDXL_SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
    "steps_offset": 1,
    "timestep_spacing": "leading",
}

TINY_UNET_CONFIG = {
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
    "block_out_channels": (32, 64),
    "layers_per_block": 2,
    "transformer_layers_per_block": 1,
    "attention_head_dim": 8,
    "cross_attention_dim": 32,
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 8,
    "projection_class_embeddings_input_dim": 6 * 8 + 32,
    "norm_num_groups": 32,
}

# SDXL's VAE, narrower and shallower: four blocks like SDXL's, so the latent is 1/8 of the
# image here too (force_upcast, True, is also AutoencoderKL's default).
TINY_VAE_CONFIG = {
    **SDXL_VAE_CONFIG,
    "block_out_channels": (32, 32, 32, 32),
    "layers_per_block": 1,
    "sample_size": 64,
}

TEXT_TOKENS = 77
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]

# Model FLOPs of one SDXL UNet forward for one 1024x1024 sample (128x128 latent, 77
# text tokens). A training step counts as 3x a forward (forward + backward).
SDXL_FORWARD_TFLOP_1024 = 6.76

# Dense bf16 peak (no sparsity), TFLOP/s, matched against torch.cuda.get_device_name().
# Order matters: the first substring that matches wins.
PEAK_BF16_TFLOPS = [
    ("H100 PCIe", 756.0),
    ("H100", 989.0),  # SXM ("NVIDIA H100 80GB HBM3")
    ("H200", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
]


def sig(x: float, digits: int = 4) -> float:
    """Round to significant digits (tiny runs have figures far below 0.001)."""
    return float(f"{x:.{digits}g}")


def fmt(x: float) -> str:
    return f"{x:.1f}" if x >= 10 else f"{x:.3g}"


def peak_tflops_for(name: str) -> float | None:
    for key, value in PEAK_BF16_TFLOPS:
        if key.lower() in name.lower():
            return value
    return None


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny UNet/VAE at 64 px (CPU smoke run)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    p.add_argument("--unet-path", default=None, help="local diffusers UNet folder (no hub access)")
    p.add_argument("--rank", type=int, default=16, help="LoRA rank (default 16)")
    p.add_argument("--train-batch", type=int, default=1, help="training batch size (default 1)")
    p.add_argument("--steps", type=int, default=20, help="timed training steps (default 20)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up steps (default 5)")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--gen-steps", type=int, default=30, help="denoising steps per image (default 30)")
    p.add_argument("--guidance", type=float, default=5.0, help="CFG scale (default 5.0)")
    p.add_argument("--images", type=int, default=2, help="timed generation batches (default 2)")
    p.add_argument("--batch", type=int, default=1, help="images per generation batch (default 1)")
    p.add_argument(
        "--fuse-lora",
        action="store_true",
        help="merge the trained LoRA into the base weights before generating (no LoRA layers left)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the UNet (default inductor mode); warm-up then includes compilation",
    )
    p.add_argument("--skip-generation", action="store_true")
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--peak-tflops", type=float, default=None, help="bf16 dense peak for MFU")
    p.add_argument(
        "--count-flops",
        action="store_true",
        help="count the UNet forward FLOPs with torch's FlopCounterMode instead of the "
        "6.76 TFLOP SDXL figure (always done with --tiny)",
    )
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


class Bench:
    def __init__(self, args):
        import torch

        self.torch = torch
        self.args = args
        if args.device:
            self.device = torch.device(args.device)
        else:
            self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.cuda = self.device.type == "cuda"
        self.dtype = torch.bfloat16 if self.cuda else torch.float32
        self.resolution = 64 if args.tiny else 1024
        self.latent = self.resolution // 8
        torch.manual_seed(args.seed)
        if self.cuda:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.gpu_name = torch.cuda.get_device_name(self.device) if self.cuda else "cpu"

    # -- helpers ----------------------------------------------------------------------
    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize(self.device)

    def autocast(self):
        if self.cuda:
            return self.torch.autocast("cuda", dtype=self.torch.bfloat16)
        import contextlib

        return contextlib.nullcontext()

    def conditioning(self, batch: int):
        """Random prompt embeddings, pooled embeddings and SDXL time ids."""
        torch = self.torch
        cfg = self.unet.config
        text_dim = cfg.cross_attention_dim
        pooled_dim = cfg.projection_class_embeddings_input_dim - 6 * cfg.addition_time_embed_dim
        emb = torch.randn(batch, TEXT_TOKENS, text_dim, device=self.device, dtype=self.dtype)
        pooled = torch.randn(batch, pooled_dim, device=self.device, dtype=self.dtype)
        r = self.resolution
        # original size, crop top-left, target size
        time_ids = torch.tensor([[r, r, 0, 0, r, r]] * batch, device=self.device, dtype=self.dtype)
        return emb, {"text_embeds": pooled, "time_ids": time_ids}

    # -- models -----------------------------------------------------------------------
    def build_unet(self):
        torch = self.torch
        from diffusers import UNet2DConditionModel

        t0 = time.perf_counter()
        if self.args.unet_path:
            unet = UNet2DConditionModel.from_pretrained(
                self.args.unet_path, torch_dtype=self.dtype, local_files_only=True
            )
            unet.to(self.device)
            source = self.args.unet_path
        else:
            config = TINY_UNET_CONFIG if self.args.tiny else SDXL_UNET_CONFIG
            # Initialise on the target device: 2.6 B parameters initialise in seconds on a
            # GPU and in about a minute on a CPU.
            with torch.device(self.device):
                unet = UNet2DConditionModel(**config)
            unet.to(dtype=self.dtype)
            source = "random weights (tiny config)" if self.args.tiny else "random weights (SDXL base config)"
        unet.requires_grad_(False)
        self.sync()
        self.unet = unet
        self.unet_params = sum(p.numel() for p in unet.parameters())
        print(
            f"unet: {self.unet_params / 1e6:.1f} M parameters, {source}, "
            f"{self.dtype} on {self.device} ({time.perf_counter() - t0:.1f} s to build)"
        )

    def add_lora(self):
        torch = self.torch
        from peft import LoraConfig

        rank = self.args.rank
        self.unet.add_adapter(
            LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=LORA_TARGETS)
        )
        # Trainable LoRA parameters in fp32 (as diffusers' train_dreambooth_lora_sdxl.py
        # does); the frozen base stays in bf16 and autocast handles the mix.
        self.lora_params = [p for p in self.unet.parameters() if p.requires_grad]
        for p in self.lora_params:
            p.data = p.data.to(torch.float32)
        self.lora_count = sum(p.numel() for p in self.lora_params)
        print(
            f"lora: rank {rank} on {','.join(LORA_TARGETS)}: "
            f"{self.lora_count / 1e6:.2f} M trainable parameters"
        )

    def forward_tflop(self, batch: int) -> tuple[float, str]:
        """Model TFLOP of one UNet forward for `batch` samples."""
        if not self.args.tiny and not self.args.count_flops and self.resolution == 1024:
            return (
                SDXL_FORWARD_TFLOP_1024 * batch,
                f"{SDXL_FORWARD_TFLOP_1024} TFLOP/forward/sample (SDXL 1024 px)",
            )
        torch = self.torch
        from torch.utils.flop_counter import FlopCounterMode

        latents = torch.randn(batch, 4, self.latent, self.latent, device=self.device, dtype=self.dtype)
        emb, added = self.conditioning(batch)
        t = torch.full((batch,), 500, device=self.device, dtype=torch.long)
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), self.autocast(), counter:
            self.unet(latents, t, encoder_hidden_states=emb, added_cond_kwargs=added)
        tflop = counter.get_total_flops() / 1e12
        return tflop, f"{tflop / batch:.4g} TFLOP/forward/sample (counted)"

    # -- training ---------------------------------------------------------------------
    def train(self) -> dict:
        torch = self.torch
        import torch.nn.functional as F
        from diffusers import DDPMScheduler

        args = self.args
        unet = self.unet
        unet.train()
        if args.gradient_checkpointing:
            unet.enable_gradient_checkpointing()
        else:
            unet.disable_gradient_checkpointing()
        noise_scheduler = DDPMScheduler(
            **{k: v for k, v in SDXL_SCHEDULER_CONFIG.items() if k != "steps_offset"}
        )
        optimizer = torch.optim.AdamW(self.lora_params, lr=args.lr, weight_decay=1e-2)
        bs = args.train_batch
        model = torch.compile(unet) if args.compile else unet

        def step():
            latents = torch.randn(bs, 4, self.latent, self.latent, device=self.device, dtype=self.dtype)
            noise = torch.randn_like(latents)
            timesteps = torch.randint(
                0, noise_scheduler.config.num_train_timesteps, (bs,), device=self.device
            )
            noisy = noise_scheduler.add_noise(latents, noise, timesteps)
            emb, added = self.conditioning(bs)
            with self.autocast():
                pred = model(noisy, timesteps, encoder_hidden_states=emb, added_cond_kwargs=added).sample
            loss = F.mse_loss(pred.float(), noise.float())
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return loss

        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        t0 = time.perf_counter()
        for i in range(args.warmup):
            step()
            if i == 0 and args.compile:
                self.sync()
                print(f"train compile + first step: {time.perf_counter() - t0:.1f} s")
        self.sync()
        times, host = [], []
        for _ in range(args.steps):
            self.sync()
            t0 = time.perf_counter()
            loss = step()
            host.append(time.perf_counter() - t0)
            self.sync()
            times.append(time.perf_counter() - t0)
        loss_value = float(loss.detach())
        if not (loss_value == loss_value):  # NaN
            raise SystemExit("training loss is NaN")
        unet.eval()
        unet.disable_gradient_checkpointing()
        optimizer.zero_grad(set_to_none=True)

        median = statistics.median(times)
        fwd_tflop, flop_source = self.forward_tflop(bs)
        step_tflop = 3 * fwd_tflop
        tflops = step_tflop / median
        peak = args.peak_tflops or (peak_tflops_for(self.gpu_name) if self.cuda else None)
        mfu = 100 * tflops / peak if (peak and self.cuda) else None
        mem = torch.cuda.max_memory_allocated(self.device) / 2**30 if self.cuda else None

        gc = "on" if args.gradient_checkpointing else "off"
        print(
            f"train step: {median * 1000:.1f} ms median over {len(times)} steps "
            f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}; batch {bs}, "
            f"{self.resolution} px, gradient checkpointing {gc}, loss {loss_value:.4f})"
        )
        print(f"train samples/s: {bs / median:.2f}")
        if self.cuda:
            # Time for the Python side to queue a step's kernels. Close to the step time:
            # the GPU waits for the CPU (launch-bound); well below it: the GPU is the limit.
            print(
                f"train host time: {statistics.median(host) * 1000:.1f} ms median to queue a step "
                f"({100 * statistics.median(host) / median:.0f} % of the step time)"
            )
        print(f"train TFLOP/s: {fmt(tflops)} (3 x {flop_source})")
        if mfu is not None:
            print(f"MFU: {mfu:.1f} % of {peak:g} TFLOP/s bf16 ({self.gpu_name})")
        elif self.cuda:
            print(f"MFU: n/a (no bf16 peak known for {self.gpu_name}; pass --peak-tflops)")
        else:
            print("MFU: n/a (cpu)")
        if mem is not None:
            print(f"train peak memory: {mem:.1f} GiB allocated")
        for n in (600, 1000):
            print(f"train {n} steps: {n * median:.0f} s ({n * median / 60:.1f} min) at this step time")
        return {
            "train_step_ms_median": round(median * 1000, 2),
            "train_step_ms_min": round(min(times) * 1000, 2),
            "train_host_ms_median": round(statistics.median(host) * 1000, 2),
            "train_steps_timed": len(times),
            "train_batch": bs,
            "train_samples_per_s": round(bs / median, 4),
            "train_tflops": sig(tflops),
            "forward_tflop_per_sample": sig(fwd_tflop / bs),
            "mfu_percent": round(mfu, 2) if mfu is not None else None,
            "peak_tflops": peak,
            "gradient_checkpointing": args.gradient_checkpointing,
            "train_peak_mem_gib": round(mem, 2) if mem is not None else None,
            "train_loss": round(loss_value, 5),
            "train_600_steps_s": round(600 * median, 1),
        }

    # -- generation -------------------------------------------------------------------
    def build_vae(self):
        torch = self.torch
        from diffusers import AutoencoderKL

        with torch.device(self.device):
            vae = AutoencoderKL(**(TINY_VAE_CONFIG if self.args.tiny else SDXL_VAE_CONFIG))
        vae.to(dtype=self.dtype).eval().requires_grad_(False)
        self.vae = vae

    def generate(self, n_steps: int, batch: int):
        """One batch of images: CFG denoising loop (cond + uncond) and VAE decode."""
        unet = self.gen_unet
        torch = self.torch
        from diffusers import EulerDiscreteScheduler

        scheduler = EulerDiscreteScheduler(**SDXL_SCHEDULER_CONFIG)
        scheduler.set_timesteps(n_steps, device=self.device)
        cond, cond_added = self.conditioning(batch)
        uncond, uncond_added = self.conditioning(batch)
        emb = torch.cat([uncond, cond])
        added = {k: torch.cat([uncond_added[k], cond_added[k]]) for k in cond_added}
        latents = torch.randn(batch, 4, self.latent, self.latent, device=self.device, dtype=torch.float32)
        latents = latents * scheduler.init_noise_sigma
        with torch.inference_mode(), self.autocast():
            for t in scheduler.timesteps:
                model_in = scheduler.scale_model_input(torch.cat([latents] * 2), t).to(self.dtype)
                pred = unet(model_in, t, encoder_hidden_states=emb, added_cond_kwargs=added).sample
                pred_uncond, pred_cond = pred.float().chunk(2)
                pred = pred_uncond + self.args.guidance * (pred_cond - pred_uncond)
                latents = scheduler.step(pred, t, latents).prev_sample
            z = (latents / self.vae.config.scaling_factor).to(self.dtype)
            image = self.vae.decode(z).sample
        assert image.shape == (batch, 3, self.resolution, self.resolution), image.shape
        return image

    def generation(self) -> dict:
        args = self.args
        if args.fuse_lora:
            self.unet.fuse_lora()
            self.unet.unload_lora()
        self.build_vae()
        self.gen_unet = self.torch.compile(self.unet) if args.compile else self.unet
        # Warm-up: kernels selection, allocator, a first decode (and compilation).
        t0 = time.perf_counter()
        self.generate(min(2, args.gen_steps), args.batch)
        self.sync()
        if args.compile:
            print(f"generation compile + warm-up: {time.perf_counter() - t0:.1f} s")
        times = []
        for _ in range(args.images):
            self.sync()
            t0 = time.perf_counter()
            image = self.generate(args.gen_steps, args.batch)
            self.sync()
            times.append(time.perf_counter() - t0)
        if not bool(self.torch.isfinite(image.float()).all()):
            print("note: decoded image has non-finite values (random weights); timing unaffected")
        per_image = statistics.median(times) / args.batch
        print(
            f"generation: {per_image:.2f} s per image, {3600 / per_image:.0f} images/hour "
            f"({args.gen_steps} steps, CFG; batch {args.batch}, {self.resolution} px, "
            f"median of {len(times)} batches, VAE decode included, "
            f"LoRA {'fused' if args.fuse_lora else 'unfused'})"
        )
        return {
            "gen_steps": args.gen_steps,
            "gen_batch": args.batch,
            "gen_batches_timed": len(times),
            "gen_s_per_image": round(per_image, 4),
            "gen_images_per_hour": round(3600 / per_image, 1),
            "gen_lora_fused": args.fuse_lora,
        }


def main(argv=None) -> int:
    args = parse_args(argv)
    import diffusers
    import peft
    import torch

    bench = Bench(args)
    print(
        f"device: {bench.gpu_name} ({bench.device}); torch {torch.__version__}, "
        f"diffusers {diffusers.__version__}, peft {peft.__version__}"
    )
    summary = {
        "config": "tiny" if args.tiny else "sdxl",
        "device": str(bench.device),
        "gpu_name": bench.gpu_name,
        "resolution": bench.resolution,
        "rank": args.rank,
        "compiled": args.compile,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "peft": peft.__version__,
    }
    bench.build_unet()
    bench.add_lora()
    summary["unet_params"] = bench.unet_params
    summary["lora_params"] = bench.lora_count
    if not args.skip_training:
        summary.update(bench.train())
    if not args.skip_generation:
        summary.update(bench.generation())
    print("BENCH_JSON " + json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
