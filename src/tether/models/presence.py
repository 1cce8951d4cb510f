"""Presences (spec 10.9): what an online member is doing."""

from __future__ import annotations

import datetime

from tether.models.base import Record, Snowflake

__all__ = ["Activity", "ClientStatus", "Presence"]


class ClientStatus(Record, kw_only=True):
    """Per-platform status; a platform is None while the user is offline on it."""

    desktop: str | None = None
    mobile: str | None = None
    web: str | None = None


class Activity(Record, kw_only=True):
    """One activity (game, stream, custom status, ...)."""

    name: str = ""
    type: int = 0
    url: str | None = None
    state: str | None = None
    details: str | None = None
    application_id: Snowflake | None = None
    created_at: int | None = None


class Presence(Record, kw_only=True):
    """A member's status in one guild; offline members have none in the cache."""

    status: str = "offline"
    client_status: ClientStatus | None = None
    activities: tuple[Activity, ...] = ()
    since: datetime.datetime | None = None
