"""The tie-aware comparison every exact test uses (spikefold.compile.agreement), on planted cases."""
import torch

from spikefold.compile.agreement import TIE64, outputs_agree, spike_agreement

T, B, N = 4, 3, 5


def two_layers():
    """Reference spikes and potentials of two layers (T, B, N), every potential far from v_th = 1."""
    g = torch.Generator().manual_seed(0)
    v1 = torch.rand(T, B, N, generator=g, dtype=torch.float64) * 0.8 + torch.where(
        torch.rand(T, B, N, generator=g) < 0.5, 0.0, 1.1).double()
    v2 = v1.flip(2)
    return (v1 > 1).double(), v1, (v2 > 1).double(), v2


def layers(s1, v1, s2, v2, got1, got2):
    return [("a", s1, got1, v1, 1.0), ("b", s2, got2, v2, torch.ones(N))]


def test_identical_spikes_agree_everywhere():
    s1, v1, s2, v2 = two_layers()
    a = spike_agreement(layers(s1, v1, s2, v2, s1.clone(), s2.clone()), TIE64)
    assert a.holds() and a.far == a.ties == a.tainted == 0 and a.clean.all()
    assert a.layers["a"].positions == T * B * N and a.layers["a"].agreement == 1.0


def test_a_planted_far_difference_fails():
    s1, v1, s2, v2 = two_layers()
    got2 = s2.clone()
    got2[2, 1, 3] = 1 - got2[2, 1, 3]         # |v - v_th| >= 0.1 there
    a = spike_agreement(layers(s1, v1, s2, v2, s1.clone(), got2), TIE64)
    assert not a.holds() and a.far == 1 and a.layers["b"].far == 1 and a.ties == 0


def test_a_planted_tie_is_counted_and_what_it_feeds_is_not_compared():
    s1, v1, s2, v2 = two_layers()
    v1[1, 2, 0] = 1.0 + 1e-12                 # a tie in layer a, step 1, sample 2
    s1[1, 2, 0] = 1.0
    got1, got2 = s1.clone(), s2.clone()
    got1[1, 2, 0] = 0.0                       # the other side rounds it below v_th ...
    got1[3, 2, 4] = 1 - got1[3, 2, 4]         # ... which changes that sample's later steps
    got2[1:, 2] = 1 - got2[1:, 2]             # and everything it feeds in layer b from step 1
    a = spike_agreement(layers(s1, v1, s2, v2, got1, got2), TIE64)
    assert a.holds(max_tainted=0.5) and a.far == 0 and a.ties == 1
    assert a.layers["a"].downstream == 2 * N and a.layers["b"].downstream == 3 * N
    assert a.clean.tolist() == [True, True, False] and a.tainted == 1
    assert not a.holds(max_tainted=0.01)      # one sample in three holds a tie: over a 1% bound
    # the same difference one step before the tie is far: downstream starts at the tie's step
    got2[0, 2, 1] = 1 - got2[0, 2, 1]
    assert spike_agreement(layers(s1, v1, s2, v2, got1, got2), TIE64).far == 1


def test_outputs_are_compared_on_clean_samples_only():
    s1, v1, s2, v2 = two_layers()
    v1[0, 0, 0], s1[0, 0, 0] = 1.0, 0.0       # a tie in sample 0 (v = v_th does not fire)
    got1 = s1.clone()
    got1[0, 0, 0] = 1.0
    a = spike_agreement(layers(s1, v1, s2, v2, got1, s2.clone()), TIE64)
    out = torch.zeros(T, B, 2, dtype=torch.float64)
    other = out.clone()
    other[:, 0] += 5.0                        # the tainted sample's output differs
    assert outputs_agree(out, other, a, atol=1e-9)
    other[:, 1] += 1e-6                       # a clean one's too
    assert not outputs_agree(out, other, a, atol=1e-9)
