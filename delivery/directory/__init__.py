"""Write-back of approved headshots to company directories (Entra ID, Google Workspace, Slack).

One module per directory, each behind the same small interface (``base.Connector``)::

    from generation.directory import DirectoryError, UserNotFound, connector_for

    external_id = connector_for(connection).push_photo(email=email, jpeg=jpeg)
"""

from delivery.directory.base import Connector, DirectoryError, UserNotFound, connector_for

__all__ = ["Connector", "DirectoryError", "UserNotFound", "connector_for"]
