"""compile: lower a trained checkpoint to a NIR graph, folding attention, BatchNorm and pooling."""
