"""A small PyTorch module defined at the top level of an importable module, as packages need."""

from __future__ import annotations

import torch


class TinyNet(torch.nn.Module):
    """Two linear layers; ``hidden`` is a constructor argument stored as init_kwargs."""

    def __init__(self, n_inputs: int = 4, hidden: int = 8) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
