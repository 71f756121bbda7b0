"""People: accounts, sign-in, login throttling, invitations, sessions."""

from __future__ import annotations

from datetime import timedelta

from .environment import env

# --- People: accounts, sign-in, invitations ----------------------------------
AUTH_USER_MODEL = "teams.User"
TENANT_MODEL = "teams.Company"  # what every tenant-owned row belongs to (core/tenancy.py)
AUTHENTICATION_BACKENDS = [
    # Throttles password logins; must come first.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # also the lifetime of createcompany's set-password link

# Login throttling (django-axes): lock an e-mail+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "core.throttle.axes_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The client's address behind our load balancers (core/client_ip.py): how many proxies of
# ours stand in front, or their networks. Used for the consent log and login throttling.
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)
TRUSTED_PROXY_CIDRS = env.list("TRUSTED_PROXY_CIDRS", default=[])
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"

# Employees sign in with links, never passwords.
MAGIC_LINK_TTL = timedelta(minutes=env.int("MAGIC_LINK_TTL_MINUTES", default=15))
MAGIC_LINKS_PER_HOUR = env.int("MAGIC_LINKS_PER_HOUR", default=5)
INVITATION_TTL = timedelta(days=env.int("INVITATION_TTL_DAYS", default=14))
# Number of reminders sent automatically to an invitee who has not joined.
INVITATION_MAX_AUTO_REMINDERS = env.int("INVITATION_MAX_AUTO_REMINDERS", default=2)
CSV_IMPORT_MAX_ROWS = env.int("CSV_IMPORT_MAX_ROWS", default=20000)
# Rows a page on the admin lists (people, review, batches, logs): keyset pages
# (core/pagination.py), each as quick as the first whatever the size of the company.
ADMIN_LIST_PAGE_SIZE = 50

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14
