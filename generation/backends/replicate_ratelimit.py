"""The create rate limit: one token bucket per Replicate account, shared by every worker."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

import redis
from django.conf import settings

from .replicate_errors import RateLimited

# Hand-written rather than a library: one atomic script is all it takes, it uses
# Redis' own clock (so workers with skewed clocks agree), and it tells us how
# long until the next token, which becomes RateLimited.retry_after. Tokens are
# refilled lazily from the elapsed time; a denied call takes nothing.
_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait_ms = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait_ms
"""

# How long a create may wait for a token before it gives up with RateLimited.
TOKEN_WAIT_SECONDS = 0.5
_REDIS_TIMEOUT_SECONDS = 2.0

_redis_lock = threading.Lock()
_redis_clients: dict[str, tuple[redis.Redis, Any]] = {}
_local_buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, monotonic ts)


def _bucket_key() -> str:
    # One bucket per Replicate account: every worker of a deployment (and any
    # other deployment on the same account and Redis) shares Replicate's limit.
    account = hashlib.sha256(settings.REPLICATE_API_TOKEN.encode()).hexdigest()[:16]
    return f"likeness:replicate:create-bucket:{account}"


def _bucket_script(url: str) -> Any:
    with _redis_lock:
        if url not in _redis_clients:
            client = redis.Redis.from_url(url, socket_timeout=_REDIS_TIMEOUT_SECONDS,
                                          socket_connect_timeout=_REDIS_TIMEOUT_SECONDS)
            _redis_clients[url] = (client, client.register_script(_BUCKET_LUA))
        return _redis_clients[url][1]


def _bucket_take_local(key: str, rate: float, burst: float) -> float:
    # No Redis (the embedded single-process setup): the same bucket, in-process.
    with _redis_lock:
        now = time.monotonic()
        tokens, ts = _local_buckets.get(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - ts) * rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
        _local_buckets[key] = (tokens - 1 if tokens >= 1 else tokens, now)
        return wait


def _bucket_take() -> float:
    """Take a token; return 0, or the seconds until one will be there (nothing taken)."""
    rate = float(settings.REPLICATE_CREATES_PER_SECOND)
    burst = max(1, int(settings.REPLICATE_CREATE_BURST))
    if rate <= 0:
        return 0.0  # limiter switched off
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return _bucket_take_local(_bucket_key(), rate, burst)
    try:
        wait_ms = _bucket_script(url)(keys=[_bucket_key()], args=[rate, burst])
    except redis.RedisError as error:
        # Fail closed, and as a rate limit: Replicate itself is not at fault.
        raise RateLimited(f"The create rate limiter is unavailable: {error}",
                          retry_after=1.0) from error
    return int(wait_ms) / 1000


def create_token_acquire() -> None:
    """Wait briefly for a create token, or raise RateLimited saying how long to wait."""
    deadline = time.monotonic() + TOKEN_WAIT_SECONDS
    while True:
        wait = _bucket_take()
        if wait <= 0:
            return
        if time.monotonic() + wait > deadline:
            raise RateLimited("Too many Replicate creates right now.", retry_after=wait)
        time.sleep(wait)
