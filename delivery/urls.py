"""delivery's company pages (under /c/<company_slug>/), mounted by config/urls.py.

They keep the URL names they had before they moved here (``teams:api_keys``,
``generation:exports``, ``generation:directory``…): templates, tests and bookmarks' names
use them, so config/urls.py mounts each list into the namespace it belongs to. The webhook
pages have their own namespace (``integrations``, delivery/webhooks/urls.py).
"""

from django.urls import path

from . import downloads
from .api import key_pages
from .directory import views as directory
from .exports import views as exports

# Mounted in the "teams" namespace.
teams_pages = [
    path("admin/api-keys/", key_pages.api_keys, name="api_keys"),
    path("admin/api-keys/<int:pk>/revoke/", key_pages.api_key_revoke_view,
         name="api_key_revoke"),
]

# Mounted in the "generation" namespace.
generation_pages = [
    path("admin/export/", exports.exports, name="exports"),
    path("admin/export/people.csv", exports.people_csv, name="people_csv"),
    path("admin/directory/", directory.directory, name="directory"),
    path("admin/directory/sync/", directory.directory_sync_now, name="directory_sync_now"),
    path("headshots/download/", downloads.headshot_download, name="headshot_download"),
]
