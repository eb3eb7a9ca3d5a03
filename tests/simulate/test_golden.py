"""The fast simulator against Lava's recorded runs (tests/golden/, written by tools/make_golden.py on
Python 3.11 with Lava): the same readout and the same spikes per neuron, on the digits LIF and
deployable STAA nets and on a graph written with the nir API.  Needs no Lava, so it is the
simulator's Lava check on Python 3.12 and 3.13 (numpy 2) as well."""
from pathlib import Path

import numpy as np
import pytest
import torch

from spikefold.compile.nir_io import read_nir
from spikefold.deploy.quantize import quantize
from spikefold.deploy.samples import fit_inputs
from spikefold.simulate.engine import Simulator

pytestmark = pytest.mark.exact
GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.mark.parametrize("name", ["digits_lif", "digits_staa", "nir_api"])
@pytest.mark.parametrize("mode", ["full", "window"])
def test_the_simulator_reproduces_lavas_recorded_run(name, mode):
    rec = np.load(GOLDEN / f"{name}.npz")
    x = torch.as_tensor(rec["x"])
    dt = float(rec["dt"]) or None
    graph = read_nir(GOLDEN / f"{name}.nir", dt=dt)
    if dt:                                        # a foreign graph on the user's graded inputs
        graph, _ = fit_inputs(graph, x, None, name)
    r = Simulator(quantize(graph)).run(x, record=True, mode=mode)
    assert torch.equal(r.readout, torch.as_tensor(rec["readout"]))
    if mode == "full":                            # Lava's T + depth steps, every spike
        lava = {k.split("/", 1)[1]: rec[k] for k in rec.files if k.startswith("spikes/")}
        assert set(lava) == set(r.spikes) and len(lava) >= 1
        for k, v in lava.items():
            assert np.array_equal(r.spikes[k].sum(0).numpy().astype(np.int64), v), k
        assert sum(int(v.sum()) for v in lava.values()) > 300
