"""Settings shared by every environment.

Every value that comes from the environment is read by these settings, with
django-environ. The defaults are the *embedded* platform: SQLite, local files,
Celery tasks run in-process, e-mail to the console. ``production.py`` refuses
to start without the variables a real deployment needs.

Grouped by concern, one module each in ``components/``. Each setting is defined in one of
them; a group that builds on another imports what it needs from it (identity adds its apps
and middleware to django.py's), so the order of the imports below does not matter.
"""

from __future__ import annotations

from .components.billing import *  # noqa: F403
from .components.delivery import *  # noqa: F403
from .components.django import *  # noqa: F403
from .components.environment import BASE_DIR, env  # noqa: F401  (production.py, test.py)
from .components.generation import *  # noqa: F403
from .components.identity import *  # noqa: F403
from .components.people import *  # noqa: F403
from .components.security import *  # noqa: F403
from .components.services import *  # noqa: F403
from .components.storage import *  # noqa: F403
