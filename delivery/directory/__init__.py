"""Write-back of approved headshots to company directories (Entra ID, Google Workspace, Slack).

One module per directory, each behind the same small interface (``base.Connector``), and
the registry of them here, so base.py knows none of them::

    from delivery.directory import DirectoryError, UserNotFound, connector_for

    external_id = connector_for(connection).push_photo(email=email, jpeg=jpeg, url=url)
"""

from __future__ import annotations

from ..models import DirectoryConnection
from .base import Connector, DirectoryError, UserNotFound
from .entra import EntraConnector
from .google import GoogleConnector
from .slack import SlackConnector

__all__ = ["CONNECTORS", "Connector", "DirectoryError", "UserNotFound", "connector_for"]

# DirectoryConnection.Provider value -> its connector. A new directory is a module and a line.
CONNECTORS = {connector.provider: connector
              for connector in (EntraConnector, GoogleConnector, SlackConnector)}


def connector_for(connection: DirectoryConnection, *, erasing: bool = False) -> Connector:
    """The connector for a company's directory connection, built from its ``config``.
    Erasure (``erasing``) uses a connection even when it is switched off for new photos."""
    label = DirectoryConnection.Provider(connection.provider).label \
        if connection.provider in DirectoryConnection.Provider.values else connection.provider
    if not connection.enabled and not erasing:
        raise DirectoryError(f"The {label} connection is switched off.", transient=False)
    connector = CONNECTORS.get(connection.provider)
    if connector is None:
        raise DirectoryError(f"Unknown directory provider {connection.provider!r}.",
                             transient=False)
    return connector.from_config(connection.config if isinstance(connection.config, dict)
                                 else {})
