"""Figures reported by the STAA-SNN paper, for side-by-side comparison (never used as results).

Table 7 of the paper (../shared/seeds/, CIFAR-100, 32x32 input, T = 4): per inference
ACs, MACs, FLOPs (total operations, syops-counter convention), parameters, energy.
"""

TABLE7 = {
    "res20m": {"acs_g": 0.10, "macs_g": 0.06, "flops_g": 0.87, "params_m": 12.69, "energy_mj": 0.366},
    "vgg13": {"acs_g": 0.05, "macs_g": 0.28, "flops_g": 0.92, "params_m": 10.67, "energy_mj": 1.333},
}
TABLE7_SETTING = {"neuron": "staa", "classes": 100, "input": 32, "timesteps": 4}
