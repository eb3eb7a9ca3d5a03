"""Every backbone runs forward and backward at T = 2 on the CPU, with both neuron types."""

import pytest
import torch

from spikefold.models.backbones import ARCHS, build_model
from spikefold.models.config import ModelConfig

SIZES = {"digitnet": 8, "res19": 32, "res20m": 32, "vgg13": 32, "resnet18": 64, "resnet34": 64, "nirnet": 34}


@pytest.mark.parametrize("neuron", ["lif", "staa"])
@pytest.mark.parametrize("arch", list(ARCHS))
def test_forward_backward_at_t2(arch, neuron):
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, neuron=neuron, num_classes=7, in_channels=3,
                      input_size=SIZES[arch], timesteps=2, tsrd_beta=0.1)
    model = build_model(cfg).train()
    x = torch.randn(2, 3, SIZES[arch], SIZES[arch])
    out = model(x)
    assert out.shape == (2, 2, 7)  # (T, B, classes)
    out.mean(0).logsumexp(1).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads[:3])
    assert sum(g.abs().sum().item() for g in grads if g is not None) > 0


def test_event_input_is_batch_first_sequences():
    cfg = ModelConfig(arch="digitnet", neuron="lif", in_channels=2, timesteps=3)
    model = build_model(cfg)
    assert model(torch.rand(5, 3, 2, 8, 8)).shape == (3, 5, 10)
    with pytest.raises(ValueError, match="expected"):
        model(torch.rand(8, 8))


def test_parameter_counts_of_the_paper_networks():
    # Paper Table 7 reports 12.69 M (ResNet-20) and 10.67 M (VGG-13) with STAA,
    # CIFAR-100 at 32x32; ours are 1.9 % above both (see models/summary.py).
    def count(arch, neuron):
        cfg = ModelConfig(arch=arch, neuron=neuron, num_classes=100, in_channels=3, input_size=32)
        return sum(p.numel() for p in build_model(cfg).parameters())

    assert count("res20m", "lif") == 11_294_116
    assert count("res20m", "staa") == 12_925_350
    assert count("vgg13", "staa") == 10_869_424
    assert abs(count("res20m", "staa") / 12.69e6 - 1) < 0.03
    assert abs(count("vgg13", "staa") / 10.67e6 - 1) < 0.03
