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


def test_rate_counts_progress_lines_only_and_stops_the_script(tmp_path):
    # a clock that advances 20 ms per reading, read once per progress line: 64 images per 20 ms = 3,200 images/s
    # exactly, however fast or loaded the machine (the unrelated lines must not be clocked)
    ticks = iter(range(10**6))
    rate = peer_rate(sys.executable, _script(tmp_path, 100_000, 0.0), 64, warmup=5, batches=40,
                     clock=lambda: 0.02 * next(ticks))
    assert rate == pytest.approx(3200, rel=1e-9)
    assert next(ticks) == 46  # 5 warm-up lines + 41 marks, then the script was stopped


def test_a_script_that_stops_early_is_reported(tmp_path):
    script = _script(tmp_path, 3, 0.0)
    script.write_text(script.read_text() + "\nraise SystemExit('no data here')\n")
    with pytest.raises(RuntimeError, match="printed 3 progress lines(.|\n)*no data here"):
        peer_rate(sys.executable, script, 64, warmup=5, batches=20)
