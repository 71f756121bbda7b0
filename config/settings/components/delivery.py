"""Delivery: REST API, outbound webhooks, directories, exports (delivery/)."""

from __future__ import annotations

from .environment import env

# --- Delivery: REST API, outbound webhooks, directories, exports (delivery/) ---
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON nested deeper than any request of ours is a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["delivery.api.base.BoundedJSONParser",
                               "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    # Requests per API key (delivery/api/base.py PerKeyThrottle).
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_LIMIT", default="600/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Likeness API",
    "VERSION": "1",
    "DESCRIPTION": "People, approved headshots, invitations and jobs of one company. "
                   "Authenticate with a company API key: `Authorization: Bearer lk_…`.",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Error answers are documented too (delivery/api/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "delivery.api.schema.error_responses"],
}
# Outbound webhooks (delivery/webhooks/). Private and loopback addresses are
# refused unless allowed (and plain http unless DEBUG), so endpoints cannot reach inside.
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=10)
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
# Directory connectors (delivery/directory/). The addresses are settings, never a
# company's own config, so no uploaded credential can aim our workers elsewhere.
DIRECTORY_TIMEOUT_SECONDS = env.float("DIRECTORY_TIMEOUT_SECONDS", default=10.0)
ENTRA_LOGIN_BASE = env.str("ENTRA_LOGIN_BASE", default="https://login.microsoftonline.com")
GRAPH_API_BASE = env.str("GRAPH_API_BASE", default="https://graph.microsoft.com")
GOOGLE_TOKEN_URI = env.str("GOOGLE_TOKEN_URI", default="https://oauth2.googleapis.com/token")
GOOGLE_ADMIN_API_BASE = env.str("GOOGLE_ADMIN_API_BASE", default="https://admin.googleapis.com")
SLACK_SCIM_BASE = env.str("SLACK_SCIM_BASE", default="https://api.slack.com")
# Lifetime of the signed links to headshot images the API hands out, and of those in
# the people CSV export (which is read later, so they live longer).
API_IMAGE_URL_TTL_SECONDS = env.int("API_IMAGE_URL_TTL_SECONDS", default=300)
EXPORT_URL_TTL_SECONDS = env.int("EXPORT_URL_TTL_SECONDS", default=7 * 24 * 3600)
