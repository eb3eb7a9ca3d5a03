"""The silicon-calibrated Loihi profile (chip/hardware.py LOIHI_SANAFE) and the SANA-FE cross-check
(bench/sanafe_check.py): SANA-FE is GPL-3.0, so no library module imports it; its figures are
cited, and where `make sanafe` installed it they are checked against its own Loihi file."""
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from spikefold.chip.cost import barrier_ns
from spikefold.chip.hardware import LOIHI, LOIHI_SANAFE, PROFILES

ROOT = Path(__file__).resolve().parents[2]
SANAFE = ROOT / ".venv" / "sanafe"


def test_no_library_module_imports_sanafe():
    pattern = re.compile(r"^\s*(import|from)\s+sanafe", re.M)
    found = [str(f.relative_to(ROOT)) for d in ("chip", "compile", "deploy", "simulate", "models", "spikefold")
             for f in (ROOT / d).rglob("*.py") if pattern.search(f.read_text())]
    assert not found, found


def test_the_calibrated_profile_is_a_profile_not_a_code_path():
    p = PROFILES["loihi_sanafe"]
    assert p is LOIHI_SANAFE and p["core_overlap"] == 1 and LOIHI["core_overlap"] == 0
    assert p["synop_pj"] == 35.5 and p["synop_conv_pj"] == 24.0 and p["spike_in_tile_pj"] == 111.0
    assert all("SANA-FE" in p.figures()[k].source for k in ("synop_pj", "spike_out_pj", "message_in_ns"))
    # Davies 2018 gives one synaptic figure and no per-spike or per-message cost
    assert LOIHI["synop_conv_pj"] == LOIHI["synop_sparse_pj"] == LOIHI["synop_pj"]
    assert LOIHI["spike_out_pj"] == LOIHI["message_in_ns"] == LOIHI["message_out_ns"] == 0


class _M:
    def __init__(self, profile, tiles, chips=1):
        self.profile, self.tiles, self.chips = profile, tiles, chips


def test_barrier_linear_for_davies_a_table_for_sanafe():
    assert barrier_ns(_M(LOIHI, 1)) == 113 and barrier_ns(_M(LOIHI, 32)) == pytest.approx(465)
    assert barrier_ns(_M(LOIHI, 5)) == pytest.approx(113 + 352 * 4 / 31)
    assert [barrier_ns(_M(LOIHI_SANAFE, t)) for t in (1, 2, 3, 4, 28, 29, 32)] == [600, 1000, 1000, 1400, 1400,
                                                                                   1800, 1800]


@pytest.mark.skipif(not (SANAFE / "sanafe").is_dir(), reason="SANA-FE not installed (`make sanafe`)")
def test_the_calibrated_profile_matches_sanafe_s_own_file():
    sys.path.insert(0, str(ROOT / "bench"))
    from sanafe_compare import arch_text, check_file, davies_values
    stock = (SANAFE / "sanafe" / "examples" / "loihi.yaml").read_text()
    check_file(stock, LOIHI_SANAFE)
    with pytest.raises(AssertionError):
        check_file(stock, LOIHI)
    text = arch_text(stock, 16, 4, davies_values(LOIHI, 158.0))
    assert "loihi_tile[0..63]" in text and "loihi_inputs" not in text and "energy_process_spike: 2.36e-11" in text
    assert "energy_process_spike: 3.55e-11" not in text


def test_the_window_s_synapse_count_is_what_sanafe_would_be_given():
    """bench/sanafe_check.py sizes a window by edge_count before building it: the same count as the
    structural synapses it builds, for a strided, padded conv, a dense and a sparse layer."""
    from types import SimpleNamespace

    import numpy as np
    sys.path.insert(0, str(ROOT / "bench"))
    from sanafe_compare import edge_count, edges
    rng = np.random.default_rng(0)
    conv = SimpleNamespace(kind="conv", weight=rng.integers(-3, 4, (5, 3, 6, 6)), in_shape=(3, 9, 7),
                           out_shape=(5, 4, 3), stride=(2, 2), padding=(2, 1))
    dense = SimpleNamespace(kind="dense", weight=rng.integers(-2, 3, (4, 7)), weight_exp=1)
    sparse = SimpleNamespace(kind="sparse", weight=rng.integers(-1, 2, (4, 7)), weight_exp=0)
    for s in (conv, dense, sparse):
        assert edge_count(s) == len(edges(s)[0])
