"""Figures reported by the STAA-SNN paper, for side-by-side comparison (never used as results).

Table 7 of the paper (../shared/seeds/, CIFAR-100, 32x32 input, T = 4): per inference
ACs, MACs, FLOPs (total operations, syops-counter convention), parameters, energy.
"""

TABLE7 = {
    "res20m": {"acs_g": 0.10, "macs_g": 0.06, "flops_g": 0.87, "params_m": 12.69, "energy_mj": 0.366},
    "vgg13": {"acs_g": 0.05, "macs_g": 0.28, "flops_g": 0.92, "params_m": 10.67, "energy_mj": 1.333},
}
TABLE7_SETTING = {"neuron": "staa", "classes": 100, "input": 32, "timesteps": 4}


def paper_shaped(arch: str, timesteps: int = 4, seed: int = 0, images: int = 32):
    """(model, images): STAA `arch` at the paper's CIFAR-100 shape (3 x 32 x 32, 100 classes)
    with seeded random weights, its BatchNorm statistics set from `images` seeded random uniform
    images so that its layers fire (a fresh network's would leave most of them silent).  A
    stand-in with the paper's shapes, not a trained network: no CIFAR-100 here."""
    import torch

    from spikefold.models.backbones import build_model
    from spikefold.models.config import ModelConfig
    torch.manual_seed(seed)
    cfg = ModelConfig(arch=arch, neuron=TABLE7_SETTING["neuron"], num_classes=TABLE7_SETTING["classes"],
                      in_channels=3, input_size=TABLE7_SETTING["input"], timesteps=timesteps)
    model = build_model(cfg)
    x = torch.rand(images, 3, 32, 32)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.momentum = 1.0            # one batch sets the running statistics
        model.train()(x)
    return model.eval(), x
