from __future__ import annotations

from pathlib import Path

import pytest

FIXTURE_BANK = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "bank"


@pytest.fixture()
def fixture_bank() -> Path:
    return FIXTURE_BANK
