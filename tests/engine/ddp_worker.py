"""Run by torchrun in the DDP test: train, then save this rank's weights for comparison."""

import os
import sys
from pathlib import Path

import torch

from ferlab.engine import load_config, train

data_root, out = sys.argv[1], Path(sys.argv[2])
config = load_config(
    model="lenet_like", data_root=data_root, out=str(out), epochs=1, batch_size=32, aug="basic", device="cpu", threads=1
)
result = train(config)
torch.save(result.model.state_dict(), out / f"rank{os.environ['RANK']}.pt")
