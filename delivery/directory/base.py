"""What every directory connector shares: its interface, its errors, HTTP with explicit timeouts.

Errors, for callers (the sync service):
- ``UserNotFound``: the directory has no (active) user with that e-mail. Not retried; the
  sync is marked not found.
- ``DirectoryError(transient=True)``: throttling (429, with ``retry_after`` from the
  Retry-After header when the directory sent one), 5xx, timeouts, refused connections.
  Retry later, with backoff; no connector sleeps or retries by itself, so a worker is never
  held for minutes.
- ``DirectoryError(transient=False)``: bad or expired credentials, missing permissions,
  a connection that is switched off or misconfigured, an image that cannot be sent.
  Retrying will not help until an admin fixes something; ``message`` says what.

Messages are written for a company admin, fit ``DirectorySync.last_error`` and never
contain credentials.

The directories' addresses come from settings (never from a company's ``config``), so a
tenant cannot point our workers at arbitrary hosts.
"""

from __future__ import annotations

import io
from typing import Any, Protocol, runtime_checkable

import requests
from django.conf import settings

from core.retry import retry_after_seconds

# DirectorySync.last_error is 500 characters.
MAX_MESSAGE_LENGTH = 480


class DirectoryError(Exception):
    """The directory did not take the photo. ``transient`` says whether a retry may work."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None,
                 retry_after: float | None = None) -> None:
        message = " ".join(message.split())
        if len(message) > MAX_MESSAGE_LENGTH:
            message = message[:MAX_MESSAGE_LENGTH - 1] + "…"
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.status = status
        # Seconds the directory asked us to wait (Retry-After), when it said.
        self.retry_after = retry_after


class UserNotFound(DirectoryError):
    """No user with that e-mail in the directory."""

    def __init__(self, message: str, *, status: int | None = 404) -> None:
        super().__init__(message, transient=False, status=status)


@runtime_checkable
class Connector(Protocol):
    provider: str  # a DirectoryConnection.Provider value

    def push_photo(self, *, email: str, jpeg: bytes, url: str = "") -> str:
        """Set the photo of the user with this e-mail; return the directory's id for them.
        ``url`` is a signed, expiring link to the same JPEG, for directories that fetch the
        photo themselves (Slack) rather than take its bytes.

        Raises UserNotFound or DirectoryError.
        """
        ...

    def remove_photo(self, *, email: str, external_id: str) -> None:
        """Remove the photo we set for this user (erasure): ``external_id`` is what
        push_photo returned (empty: look the user up by e-mail). A user or photo that is
        already gone counts as removed. Raises DirectoryError when the directory will not
        (or cannot) remove it; the message says why, for the person erased.
        """
        ...


# --- Settings and config ------------------------------------------------------------------


def timeout_seconds() -> float:
    """Connect and read timeout for every directory request (DIRECTORY_TIMEOUT_SECONDS)."""
    return float(getattr(settings, "DIRECTORY_TIMEOUT_SECONDS", 10))


def base_url(name: str, default: str) -> str:
    """A directory's address from settings, without a trailing slash."""
    return str(getattr(settings, name, "") or default).rstrip("/")


def require(config: dict[str, Any], keys: tuple[str, ...], *, label: str) -> dict[str, str]:
    """The non-empty string values of ``keys``; a permanent error naming what is missing."""
    values: dict[str, str] = {}
    missing = []
    for key in keys:
        value = config.get(key)
        if isinstance(value, str) and value.strip():
            values[key] = value.strip()
        else:
            missing.append(key)
    if missing:
        raise DirectoryError(f"The {label} connection is missing {', '.join(missing)}: "
                             "enter it again in the connection settings.", transient=False)
    return values


def check_email(email: str, *, label: str) -> str:
    email = (email or "").strip()
    if "@" not in email or any(ch.isspace() or ord(ch) < 32 for ch in email):
        raise UserNotFound(f"{email!r} is not an e-mail address, so {label} cannot have it.",
                           status=None)
    return email


# --- HTTP -----------------------------------------------------------------------------------


def new_session() -> requests.Session:
    # requests does not retry by default (max_retries=0); retries are the caller's job.
    session = requests.Session()
    session.headers["User-Agent"] = "likeness-directory-sync/1"
    return session


def send(session: requests.Session, method: str, url: str, *, service: str,
         **kwargs: Any) -> requests.Response:
    """One request with our timeout; failures to get an answer become DirectoryErrors.

    The timeout bounds connecting and each wait for data (requests' semantics), so a
    directory that stalls fails after about DIRECTORY_TIMEOUT_SECONDS.
    """
    timeout = timeout_seconds()
    try:
        return session.request(method, url, timeout=(timeout, timeout), allow_redirects=False,
                               **kwargs)
    except requests.Timeout as error:
        raise DirectoryError(f"{service} did not answer within {timeout:g} seconds.",
                             transient=True) from error
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema) as error:
        raise DirectoryError(f"The address configured for {service} is not valid: {error}",
                             transient=False) from error
    except requests.RequestException as error:
        raise DirectoryError(f"Could not reach {service}: {type(error).__name__}.",
                             transient=True) from error


def is_transient_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def transient_error(response: requests.Response, *, service: str, detail: str = ""
                    ) -> DirectoryError:
    """A throttling or server error: retry later, after Retry-After when given."""
    status = response.status_code
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    what = ("is throttling requests" if status == 429 else
            "timed out" if status == 408 else "had a server error")
    message = f"{service} {what} ({status})"
    if detail:
        message += f": {detail}"
    message += "." if retry_after is None else f"; retry after {retry_after:g} seconds."
    return DirectoryError(message, transient=True, status=status, retry_after=retry_after)


def refusal(response: requests.Response, *, service: str, detail: str, doing: str,
            messages: dict[int, str]) -> DirectoryError:
    """The error for a request the directory refused: throttling and server errors to retry
    later, ``messages[status]`` where the connector says more (a 404 message means no such
    user), else what was being done, with the status and the directory's own detail."""
    status = response.status_code
    if is_transient_status(status):
        return transient_error(response, service=service, detail=detail)
    if status == 404 and 404 in messages:
        return UserNotFound(messages[404])
    if status in messages:
        return DirectoryError(messages[status], transient=False, status=status)
    return DirectoryError(f"{service} could not {doing} ({status}"
                          f"{', ' + detail if detail else ''}).", transient=False, status=status)


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def json_body(response: requests.Response, *, service: str) -> dict[str, Any]:
    data = json_or_none(response)
    if not isinstance(data, dict):
        raise DirectoryError(f"{service} answered {response.status_code} with something that is "
                             "not the JSON we expected.", transient=False,
                             status=response.status_code)
    return data


# --- The photo ---------------------------------------------------------------------------------


def jpeg_dimensions(jpeg: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG; a permanent error for anything else."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            if image.format != "JPEG":
                raise DirectoryError(f"The headshot is {image.format}, not JPEG.",
                                     transient=False)
            return image.size
    except (UnidentifiedImageError, OSError) as error:
        raise DirectoryError("The headshot could not be read as a JPEG.",
                             transient=False) from error


def fit_jpeg(jpeg: bytes, max_bytes: int) -> bytes:
    """The JPEG itself when it fits in ``max_bytes``; otherwise a smaller re-encoding."""
    jpeg_dimensions(jpeg)
    if len(jpeg) <= max_bytes:
        return jpeg
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(jpeg)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    long_side = max(image.size)
    for side in (long_side, 2048, 1536, 1024, 768, 512, 256):
        if side > long_side:
            continue
        copy = image.copy()
        copy.thumbnail((side, side), Image.Resampling.LANCZOS)
        for quality in (90, 82, 72):
            buffer = io.BytesIO()
            copy.save(buffer, format="JPEG", quality=quality, optimize=True)
            if buffer.tell() <= max_bytes:
                return buffer.getvalue()
    raise DirectoryError(f"The headshot could not be made smaller than {max_bytes} bytes.",
                         transient=False)
