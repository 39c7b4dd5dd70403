"""The golden run's event stream matches its pinned hash, for 1 and 2 threads.

If this fails after an intended change (engine, agent models, golden.toml), regenerate with
`python tests/golden/regenerate.py --write` and review the change before committing.
"""

from pathlib import Path
from types import ModuleType

import pytest
from repository import load_script

GOLDEN = Path(__file__).resolve().parent / "golden"


def _module() -> ModuleType:
    return load_script(GOLDEN / "regenerate.py", "golden_regenerate")


@pytest.mark.parametrize("threads", [1, 2])
def test_event_stream_matches_the_pinned_hash(threads: int) -> None:
    mod = _module()
    expected = (GOLDEN / "event_stream.sha256").read_text().strip()
    digest, events = mod.event_stream_hash(threads)
    assert events > 10_000
    assert digest == expected
