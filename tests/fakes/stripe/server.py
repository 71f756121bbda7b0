"""The fake Stripe's HTTP side: authentication, injected failures, idempotency keys and
replays, Stripe's error answers."""

from __future__ import annotations

import copy
import json
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..loopback import LoopbackHandler
from .wire import API_VERSION, RecordedRequest, _ApiError, _Failure, _rand, _unrecognized, parse_form

if TYPE_CHECKING:
    from .fake import FakeStripe


class StripeHandler(LoopbackHandler):
    fake: FakeStripe

    def _reply(self, status: int, payload: dict[str, Any],
               headers: dict[str, str] | None = None) -> None:
        if self.fake.response_delay:
            time.sleep(self.fake.response_delay)
        self.reply(status, body=json.dumps(payload, indent=2).encode(), headers={
            "Request-Id": "req_" + _rand(14),
            "Stripe-Version": self.headers.get("Stripe-Version") or API_VERSION,
            **(headers or {})})

    def _error(self, exc: _ApiError) -> None:
        self._reply(exc.status, {"error": exc.error}, exc.headers)

    def _read(self) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """Record the request; (path, query, form) or form None when it does not parse."""
        raw = self.body()
        split = urlsplit(self.path)
        path = unquote(split.path)
        try:
            query = parse_form(parse_qsl(split.query, keep_blank_values=True))
            form: dict[str, Any] | None = parse_form(
                parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=False))
        except (ValueError, UnicodeDecodeError):
            query, form = {}, None
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.fake._lock:
            self.fake.requests.append(RecordedRequest(self.command, path, query, headers,
                                                      form or {}, raw))
            if self.command == "POST":
                self.fake.idempotency_keys[path].append(headers.get("idempotency-key"))
        return path, query, form

    def _gate(self) -> _Failure | None:
        """Auth, then an injected failure: raises _ApiError, or returns an ``applied`` one."""
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            raise _ApiError(401, "You did not provide an API key. You need to provide your API "
                            "key in the Authorization header, using Bearer auth (e.g. "
                            "'Authorization: Bearer YOUR_SECRET_KEY'). See "
                            "https://stripe.com/docs/api#authentication for details, or we can "
                            "help at https://support.stripe.com/.")
        key = auth[7:].strip()
        if not secrets.compare_digest(key, self.fake.secret_key):
            raise _ApiError(401, f"Invalid API Key provided: {key[:8]}{'*' * 12}{key[-4:]}")
        failure = self.fake._take_failure()
        if failure is None or failure.applied:
            return failure
        raise _injected(failure)

    def _handle(self) -> None:
        path, query, form = self._read()
        try:
            failure = self._gate()
            if form is None:
                raise _ApiError(400, "Invalid request: the body could not be parsed as "
                                "application/x-www-form-urlencoded.")
            if self.command == "GET":
                with self.fake._lock:
                    answer = copy.deepcopy(self.fake._get(path, query))
                headers: dict[str, str] = {}
            elif self.command == "POST":
                answer, headers = self._post(path, form)
            else:
                raise _unrecognized(self.command, path)
            if failure is not None:  # done, but the answer is lost
                raise _injected(failure)
        except _ApiError as exc:
            self._error(exc)
            return
        self._reply(200, answer, headers)

    def _post(self, path: str, form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        key = self.headers.get("Idempotency-Key")
        endpoint = f"POST {path}"
        with self.fake._lock:
            if key:
                if len(key) > 255:
                    raise _ApiError(400, "Idempotency keys are limited to 255 characters.",
                                    param="Idempotency-Key")
                seen = self.fake._replays.get(key)
                if seen is not None:
                    first_endpoint, first_form, _, answer = seen
                    if first_endpoint != endpoint:
                        raise _ApiError(
                            400, "Keys for idempotent requests can only be used for the same "
                            f"endpoint they were first used for ('{first_endpoint}'). Try using "
                            f"a key other than '{key}' if you meant to execute a different "
                            "request.", type="idempotency_error")
                    if first_form != form:
                        raise _ApiError(
                            400, "Keys for idempotent requests can only be used with the same "
                            f"parameters they were first used with. Try using a key other than "
                            f"'{key}' if you meant to execute a different request.",
                            type="idempotency_error")
                    return copy.deepcopy(answer), {"Idempotency-Key": key,
                                                   "Idempotent-Replayed": "true"}
            answer = copy.deepcopy(
                {k: v for k, v in self.fake._post(path, form).items() if not k.startswith("_")})
            headers = {}
            if key:
                self.fake._replays[key] = (endpoint, copy.deepcopy(form), 200, answer)
                headers["Idempotency-Key"] = key
            return answer, headers

    do_GET = _handle  # noqa: N815
    do_POST = _handle  # noqa: N815
    do_DELETE = _handle  # noqa: N815



def _injected(failure: _Failure) -> _ApiError:
    headers: dict[str, str] = {}
    if failure.retry_after is not None:
        headers["Retry-After"] = f"{failure.retry_after:g}"
    if failure.should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if failure.should_retry else "false"
    status = failure.status
    if status == 429:
        return _ApiError(429, failure.message or "Request rate limit exceeded. Learn more "
                         "about rate limits here https://stripe.com/docs/rate-limits.",
                         code="rate_limit", headers=headers)
    if status == 402:
        return _ApiError(402, failure.message or "Your card was declined.", type="card_error",
                         code="card_declined", headers=headers)
    if status == 409:
        return _ApiError(409, failure.message or "This object cannot be accessed right now "
                         "because another API request or Stripe process is currently accessing "
                         "it.", code="lock_timeout", headers=headers)
    if status >= 500:
        return _ApiError(status, failure.message or "An unknown error occurred (injected by "
                         "the fake).", type="api_error", headers=headers)
    return _ApiError(status, failure.message or f"Injected {status} from the fake.",
                     headers=headers)
