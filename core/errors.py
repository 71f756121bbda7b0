"""Errors that services raise and views turn into clear messages."""

from __future__ import annotations


class ServiceError(Exception):
    """Bad input or a refused action. ``str(error)`` is safe to show to the user."""


class NotAllowed(ServiceError):
    """The acting person's role does not allow this."""


class TokenInvalid(ServiceError):
    """A link's token cannot be used. ``reason`` picks the page the visitor sees."""

    MESSAGES = {
        "unknown": "This link is not valid. Check that you copied the whole address.",
        "expired": "This link has expired. Ask your company's admin for a new one.",
        "revoked": "This link was withdrawn by your company's admin.",
        "used": "This link has already been used. Request a new sign-in link below.",
        "used_up": "This invite link has reached its limit. Ask your company's admin for another.",
        "domain": "This invitation is limited to e-mail addresses of the company's own domains.",
    }

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(detail or self.MESSAGES.get(reason, self.MESSAGES["unknown"]))
