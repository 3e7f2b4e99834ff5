"""Shared test settings: a private dataset cache, and where the real data lives."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_FER2013 = REPO.parent / "shared" / "data" / "fer2013"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point the dataset cache at a temp dir so tests never touch the user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FERLAB_CACHE_DIR", str(tmp_path_factory.mktemp("ferlab-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def fer2013_root() -> Path:
    """The real FER2013 + FERPlus folder; tests using it skip where it is absent."""
    if not (SHARED_FER2013 / "fer2013.csv.gz").is_file():
        pytest.skip(f"real FER2013 data not found at {SHARED_FER2013}")
    return SHARED_FER2013
