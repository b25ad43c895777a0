"""The one way a test asks for a model's weights: skipped on a developer's machine without them,
failed under CI, where `make setup` fetched them (a CI run that skipped every answer would pass
while proving nothing)."""

from __future__ import annotations

import os

import pytest


def require_model(settings, name: str) -> None:
    from rag.models import get_spec, status

    if status(settings, get_spec(settings, name)).verified:
        return
    reason = f"the {name} model is not fetched (run `make setup`)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI runs every test that needs it", pytrace=False)
    pytest.skip(reason)
