"""simulate: fast batched bit-accurate simulator, operation counters, energy models, reports."""
