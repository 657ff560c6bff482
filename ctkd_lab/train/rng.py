"""A training process's random state, as a checkpoint keeps it and a resumed run restores it.

The state is the CPU generator's and, on CUDA, that of the one GPU the process trains on (``"gpu"``),
not of every GPU visible: a run trained with two GPUs visible resumes with one (or on another index)
and restores that GPU's state to the GPU it now trains on. Checkpoints written before this kept every
visible GPU's state in a list (``"cuda"``); restoring one takes the entry of the training GPU's index
when the list has it, and otherwise restores the CPU state alone: never a traceback. (The kit's
methods draw their random numbers on the CPU; the GPU state matters only to a method that draws on
the device.)
"""
from __future__ import annotations

import torch


def rng_state(device: torch.device) -> dict:
    """This process's random state: ``{"torch": CPU state, "gpu": the training GPU's state or None}``."""
    gpu = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return {"torch": torch.get_rng_state(), "gpu": gpu}


def restore_rng(saved: dict, device: torch.device) -> str:
    """Restore what :func:`rng_state` saved (or an older checkpoint's list); returns what was restored
    (``"cpu"``, ``"cpu+gpu"``) for the curious."""
    torch.set_rng_state(saved["torch"].cpu())
    if device.type != "cuda" or not torch.cuda.is_available():
        return "cpu"
    state = saved.get("gpu")
    if state is None:  # an older checkpoint: every visible GPU's state, by index
        states = saved.get("cuda") or []
        index = device.index if device.index is not None else torch.cuda.current_device()
        state = states[index] if index < len(states) else None
    if state is None:
        return "cpu"
    torch.cuda.set_rng_state(state.cpu(), device)
    return "cpu+gpu"
