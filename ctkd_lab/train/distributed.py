"""Data-parallel training under ``torchrun``: the process group, the DDP wrapper and rank-0 agreement.

``torchrun --nproc_per_node N -m ctkd_lab train ...`` starts N copies of the command with RANK,
WORLD_SIZE, LOCAL_RANK (and a rendezvous address) in their environment. :func:`init_world` reads
them and joins the process group: gloo on the CPU, nccl on CUDA (each process on ``cuda:LOCAL_RANK``).
Without those variables (or with WORLD_SIZE=1) everything here is a no-op and the trainer runs as one
process, exactly as before.

The rules the trainer follows (docs/cli.md, "More than one process"):

- ``--batch-size`` is the *global* batch: each process takes ``batch_size / N`` images a step, the
  gradients are averaged, so one step sees the same images, and the learning rate means the same,
  as the one-process run (batch norm statistics are per process, as in the papers' multi-GPU runs).
- The trained networks are synchronised by one ``DistributedDataParallel`` around the method; the
  frozen roles (pre-trained teachers) are told to DDP as ignored: never broadcast, never reduced.
- Rank 0 alone decides (can the run folder start or resume? :func:`agree`), evaluates, writes the
  run folder and draws the progress bar; the others wait for its results at the end of each epoch.
"""
from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ..errors import UserError


@dataclass(frozen=True)
class World:
    """Where this process stands: its rank among ``size`` processes (``local_*``: on this machine)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    backend: str | None = None

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> dict:
        return {"world_size": self.size, "backend": self.backend}


SINGLE = World()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise UserError(f"the environment variable {name}={value!r} is not a whole number; "
                        f"start the command through torchrun, which sets it") from None


def world_from_env() -> World:
    """The world torchrun describes in the environment (one process when it says nothing)."""
    size = _env_int("WORLD_SIZE", 1)
    if size <= 1:
        return SINGLE
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    local_size = _env_int("LOCAL_WORLD_SIZE", size)
    return World(rank, size, local_rank, local_size)


def backend_for(device: torch.device) -> str:
    """nccl for CUDA tensors, gloo for everything else (the CPU)."""
    return "nccl" if device.type == "cuda" else "gloo"


def init_world(device: torch.device) -> World:
    """Join torchrun's process group (once per process) and return this process's :class:`World`.

    ``device`` is where training runs; on CUDA each process takes ``cuda:LOCAL_RANK``.
    """
    world = world_from_env()
    if not world.active:
        return SINGLE
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"torchrun training runs on the CPU (gloo) or CUDA (nccl), not on {device.type}; "
                        f"pass --device cpu")
    if device.type == "cuda" and world.local_rank >= torch.cuda.device_count():
        raise UserError(f"process {world.local_rank} on this machine has no GPU of its own (it sees "
                        f"{torch.cuda.device_count()}); start at most that many processes per machine")
    backend = backend_for(device)
    if dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), world.local_rank, world.local_size,
                     dist.get_backend())
    if backend == "nccl":
        torch.cuda.set_device(world.local_rank)
    # rank 0 alone evaluates and decodes while the others wait in a collective: allow it an hour
    dist.init_process_group(backend, timeout=timedelta(minutes=60))
    atexit.register(shutdown)
    return World(dist.get_rank(), dist.get_world_size(), world.local_rank, world.local_size, backend)


def shutdown() -> None:
    """Leave the process group (at exit; harmless when there is none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def device_for(world: World, device: torch.device) -> torch.device:
    """The device this process trains on: ``cuda:LOCAL_RANK`` under torchrun on CUDA."""
    if world.active and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


def agree(world: World, decide):
    """Run ``decide()`` on rank 0 only and give its result (or its user error) to every rank.

    For what one process must decide for all: whether the run folder may start, what it held.
    Every rank then raises the same one-sentence error, before any of them starts training.
    """
    if not world.active:
        return decide()
    box = [None]
    failure = None
    if world.is_main:
        try:
            box[0] = ("ok", decide())
        except UserError as err:  # what the CLI reports as a user's error (anything else is a bug)
            box[0] = ("error", str(err))
        except BaseException as err:  # anything else: the others stop too, rank 0 keeps its traceback
            box[0], failure = ("crash", f"{type(err).__name__}: {err}"), err
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if failure is not None:
        raise failure
    if kind == "error":
        raise UserError(value)
    if kind == "crash":
        raise RuntimeError(f"rank 0 failed ({value}); see its output")
    return value


def share_from_main(world: World, value):
    """Rank 0's ``value`` on every rank (any picklable object)."""
    if not world.active:
        return value
    box = [value if world.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_to_main(world: World, value) -> list:
    """Every rank's ``value``, in rank order, on every rank (small picklable objects)."""
    if not world.active:
        return [value]
    out = [None] * world.size
    dist.all_gather_object(out, value)
    return out


def over_ranks(world: World, tensor: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """Element-wise ``op`` ("sum" or "min") of ``tensor`` over the ranks (float64 on the wire, same dtype back)."""
    if not world.active:
        return tensor
    wire = tensor.detach().to(torch.float64).clone()
    dist.all_reduce(wire, op={"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN}[op])
    return wire.to(tensor.dtype)


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()


def broadcast_trained(world: World, method) -> None:
    """Rank 0's trained parameters and buffers to every rank: once, after the first step, for what is
    initialised from the data a process sees (LSQ's step sizes from its first batch)."""
    if not world.active:
        return
    frozen = {id(t) for role in method.frozen for t in list(method.networks[role].parameters())
              + list(method.networks[role].buffers())}
    with torch.no_grad():
        for t in list(method.parameters()) + list(method.buffers()):
            if id(t) not in frozen:
                dist.broadcast(t.data, src=0)


def ignore_in_ddp(method, names: list[str]) -> bool:
    """Tell DDP to leave the frozen roles' parameters and buffers alone (``names``: their fully qualified
    names). It has no public API for this: the private ``_set_params_and_buffers_to_ignore_for_model`` is
    used where it exists (torch 1.8 to 2.x); True when it was. Without it, the fallback is harmless: a
    frozen role's parameters have ``requires_grad=False``, so DDP reduces no gradient of theirs, and its
    buffers, loaded from the same checkpoint in every process, are broadcast unchanged (a little traffic).
    """
    from torch.nn.parallel import DistributedDataParallel as DDP

    setter = getattr(DDP, "_set_params_and_buffers_to_ignore_for_model", None)
    if callable(setter):
        setter(method, names)
        return True
    import warnings

    warnings.warn("this torch has no DDP API to ignore the frozen teachers; their buffers are broadcast "
                  "(identical in every process) and their parameters take no gradient", stacklevel=2)
    return False


def wrap_method(method, world: World, device: torch.device):
    """``DistributedDataParallel`` around ``method`` with its frozen roles ignored; ``method`` itself
    with one process. The wrapper is only the step's forward; evaluation uses ``method`` directly.

    A method whose step leaves some trained parameter without a gradient (an ablation switch that
    skips a module) sets ``ddp_find_unused = True``; DDP then looks for them after each forward.
    """
    if not world.active:
        return method
    from torch.nn.parallel import DistributedDataParallel as DDP

    ignored = [f"networks.{role}.{name}" for role in method.frozen
               for name, _ in list(method.networks[role].named_parameters())
               + list(method.networks[role].named_buffers())]
    ignore_in_ddp(method, ignored)
    return DDP(method, device_ids=[device.index] if device.type == "cuda" else None,
               find_unused_parameters=bool(getattr(method, "ddp_find_unused", False)))
