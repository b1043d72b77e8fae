"""benchmarks/peer_asis.py clocks an unmodified peer script by its progress lines: check that clock on a
stand-in script whose pace is known."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from peer_asis import peer_rate  # noqa: E402

PACED = """
import time
for i in range({lines}):
    time.sleep({pause})
    print("[Epoch 0/200] [Batch %d/938] [D loss: 0.5] [G loss: 0.7]" % i)
    print("an unrelated line")
"""


def _script(tmp_path: Path, lines: int, pause: float) -> Path:
    path = tmp_path / "peer.py"
    path.write_text(PACED.format(lines=lines, pause=pause))
    return path


def test_rate_follows_the_scripts_pace_and_stops_it(tmp_path):
    # 64 images per line, one line per 20 ms: 3,200 images/s; sleeping never runs fast, a loaded machine runs slow
    rate = peer_rate(sys.executable, _script(tmp_path, 100_000, 0.02), 64, warmup=5, batches=40)
    assert 0.5 * 3200 < rate < 1.15 * 3200


def test_a_script_that_stops_early_is_reported(tmp_path):
    script = _script(tmp_path, 3, 0.0)
    script.write_text(script.read_text() + "\nraise SystemExit('no data here')\n")
    with pytest.raises(RuntimeError, match="printed 3 progress lines(.|\n)*no data here"):
        peer_rate(sys.executable, script, 64, warmup=5, batches=20)
