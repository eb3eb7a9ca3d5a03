"""The backbones of the paper's tables, plus a small net for 8x8 inputs.  build_model(cfg) picks one.

Conventions (DESIGN.md section 2, from the MPBN/TET/FSTA code bases):
  res19     stem conv3x3 -> 128; BasicBlocks [3, 3, 2] at 128/256/512; FC 512 -> classes
            (res19_head="tdbn": FC 512 -> 256 -> neuron -> classes, tdBN's ResNet-19 head)
  res20m    stem 3 x conv3x3 at 64; AvgPool 2; BasicBlocks [2, 2, 2, 2] at 64..512,
            shortcut AvgPool + conv1x1 + BN when downsampling; FC 512 -> classes
  vgg13     64,64,M,128,128,M,256,256,M,512,512,M,512,512,M with BN, M = AvgPool 2;
            FC (512 * remaining pixels) -> classes
  resnet18/34  ImageNet stem conv7x7/2 -> 64 then AvgPool 2 (the usual MaxPool 3x3/2
            is replaced by an average pool so the stem stays foldable into the next
            synaptic layer on a chip; stem_pool="max" restores MaxPool 3x3/2 pad 1 for
            training as the papers do, which compile/ then refuses); BasicBlocks [2,2,2,2] / [3,4,6,3]
  digitnet  conv3x3 -> 16, conv3x3 -> 32, AvgPool 2, conv3x3 -> 64, AvgPool 2,
            FC 64*(s/4)^2 -> classes: trains on 8x8 digits on a CPU in a minute
  nirnet    the NIR paper's N-MNIST network (Pedersen et al. 2024, paper/02_cnn of
            neuromorphs/NIR): conv5x5/2 pad 1 -> 16, conv3x3 -> 16, pool 2, conv3x3 -> 8,
            pool 2, flatten, FC 8*(s'/4)^2 -> 256, neuron, FC 256 -> classes, where
            s' = (s + 2 - 5) // 2 + 1 (34x34 input: 16 -> 8 -> 4, 128 features).  Spikefold's
            conventions replace the paper's choices where they differ: its SumPool 2 is an
            AvgPool 2 (the same up to a factor 4 the next layer's weights absorb), each conv
            has BN (folded by compile/), the FCs have biases, the IF neurons are the
            configured neuron (--neuron lif --tau large comes closest to IF), and the last
            FC is the non-spiking readout every arch has, not a spiking IF layer; the hidden
            FC starts from He's init x 12 (no BN feeds those neurons: see nirnet).
Every conv is followed by BN and the configured neuron; the classifier has no neuron.
"""

from __future__ import annotations

import torch
from torch import nn

from spikefold.models.config import ModelConfig
from spikefold.models.layers import BasicBlock, Classifier, ConvBN, ConvBNSpike, SpikingNet, avg_pool
from spikefold.models.neurons import make_neuron
from spikefold.models.sma import place_sma
from spikefold.models.time_distributed import TimeDistributed


def _stages(cfg: ModelConfig, c_in: int, widths, depths, strides, shortcut: str):
    blocks = []
    for width, depth, stride in zip(widths, depths, strides):
        for i in range(depth):
            blocks.append(BasicBlock(cfg, c_in, width, stride if i == 0 else 1, shortcut))
            c_in = width
    return blocks


def res19(cfg: ModelConfig) -> SpikingNet:
    body = nn.Sequential(ConvBNSpike(cfg, cfg.in_channels, 128),
                         *_stages(cfg, 128, (128, 256, 512), (3, 3, 2), (1, 2, 2), "conv"))
    hidden = 256 if cfg.res19_head == "tdbn" else 0
    return SpikingNet(cfg, body, Classifier(512, cfg.num_classes, hidden=hidden,
                                            neuron=make_neuron(cfg, hidden) if hidden else None))


def res20m(cfg: ModelConfig) -> SpikingNet:
    body = nn.Sequential(ConvBNSpike(cfg, cfg.in_channels, 64), ConvBNSpike(cfg, 64, 64),
                         ConvBNSpike(cfg, 64, 64), avg_pool(2),
                         *_stages(cfg, 64, (64, 128, 256, 512), (2, 2, 2, 2), (1, 2, 2, 2),
                                  "avgpool"))
    return SpikingNet(cfg, body, Classifier(512, cfg.num_classes))


VGG13 = (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


def vgg13(cfg: ModelConfig) -> SpikingNet:
    layers, c_in, size = [], cfg.in_channels, cfg.input_size
    for item in VGG13:
        if item == "M":
            layers.append(avg_pool(2))
            size //= 2
        else:
            layers.append(ConvBNSpike(cfg, c_in, item))
            c_in = item
    if size < 1:
        raise ValueError(f"vgg13 needs an input of at least 32 pixels (got {cfg.input_size})")
    return SpikingNet(cfg, nn.Sequential(*layers),
                      Classifier(512 * size * size, cfg.num_classes, global_pool=False))


def _imagenet_resnet(cfg: ModelConfig, depths) -> SpikingNet:
    pool = TimeDistributed(nn.MaxPool2d(3, 2, 1)) if cfg.stem_pool == "max" else avg_pool(2)
    body = nn.Sequential(ConvBNSpike(cfg, cfg.in_channels, 64, kernel=7, stride=2), pool,
                         *_stages(cfg, 64, (64, 128, 256, 512), depths, (1, 2, 2, 2), "conv"))
    return SpikingNet(cfg, body, Classifier(512, cfg.num_classes))


def resnet18(cfg: ModelConfig) -> SpikingNet:
    return _imagenet_resnet(cfg, (2, 2, 2, 2))


def resnet34(cfg: ModelConfig) -> SpikingNet:
    return _imagenet_resnet(cfg, (3, 4, 6, 3))


def digitnet(cfg: ModelConfig) -> SpikingNet:
    if cfg.input_size % 4:
        raise ValueError(f"digitnet needs an input size divisible by 4 (got {cfg.input_size})")
    body = nn.Sequential(ConvBNSpike(cfg, cfg.in_channels, 16), ConvBNSpike(cfg, 16, 32),
                         avg_pool(2), ConvBNSpike(cfg, 32, 64), avg_pool(2))
    side = cfg.input_size // 4
    return SpikingNet(cfg, body, Classifier(64 * side * side, cfg.num_classes, global_pool=False))


NIRNET_HIDDEN_GAIN = 12.0   # nirnet's hidden FC: He's init times this (see nirnet)


def nirnet(cfg: ModelConfig) -> SpikingNet:
    side = (cfg.input_size + 2 - 5) // 2 + 1          # after the 5x5 stride-2 conv, padding 1
    if side < 4 or side % 4:
        raise ValueError(f"nirnet needs an input size s with (s - 3) // 2 + 1 a multiple of 4, "
                         f"e.g. 34 (got {cfg.input_size})")
    first = ConvBNSpike(cfg, cfg.in_channels, 16, kernel=5, stride=2)
    first[0] = ConvBN(cfg.in_channels, 16, 5, 2, padding=1)    # the paper pads 1, not kernel // 2
    body = nn.Sequential(first, ConvBNSpike(cfg, 16, 16), avg_pool(2),
                         ConvBNSpike(cfg, 16, 8), avg_pool(2))
    features = 8 * (side // 4) ** 2
    head = Classifier(features, cfg.num_classes, global_pool=False, hidden=256, neuron=make_neuron(cfg, 256))
    # No BN before the hidden neurons, and their inputs are pooled spikes at rates of 1-4 %:
    # torch's default init (std 1 / sqrt(3 * 128)) gives them an input std near 0.05-0.1, they
    # never fire and nothing trains (lif, staa: 10 % after 3 epochs on nmnist-sim).  He's init
    # times NIRNET_HIDDEN_GAIN brings that std to about 1-2, as BN gives every conv layer.
    nn.init.kaiming_normal_(head.hidden.weight, nonlinearity="relu")
    with torch.no_grad():
        head.hidden.weight.mul_(NIRNET_HIDDEN_GAIN)
    nn.init.zeros_(head.hidden.bias)
    return SpikingNet(cfg, body, head)


ARCHS = {"digitnet": digitnet, "res19": res19, "res20m": res20m, "vgg13": vgg13,
         "resnet18": resnet18, "resnet34": resnet34, "nirnet": nirnet}


def build_model(cfg: ModelConfig) -> SpikingNet:
    """The network cfg describes, freshly initialised."""
    try:
        make = ARCHS[cfg.arch]
    except KeyError:
        raise ValueError(f"unknown arch {cfg.arch!r}; choose from {', '.join(ARCHS)}") from None
    model = make(cfg)
    return place_sma(model, cfg) if cfg.neuron == "sma" else model
