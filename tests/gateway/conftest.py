"""Every gateway test runs with DEBUG logging captured and ends by checking that no log record
mentions the bot token (twilight config.rs, hikari ``_log_filterer``: the token is redacted)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from .helpers import TOKEN_TEXT


@pytest.fixture(autouse=True)
def _token_never_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        assert TOKEN_TEXT not in record.getMessage(), record.name
        assert TOKEN_TEXT not in repr(record.args), record.name
        assert TOKEN_TEXT not in (record.exc_text or ""), record.name
