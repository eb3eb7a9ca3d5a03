"""What every stage shares and nothing else: command-line conventions (`cli`), input
validation (`validate`), atomic writes (`atomic`) and the DDP launcher (`distributed`).
The bottom layer: it imports no other spikefold package."""
