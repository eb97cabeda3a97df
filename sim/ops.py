"""Records of the hardware work a network does.

This is a leaf module (plain dataclasses, no imports from the rest of the
project) so that both the digital and the photonic networks can describe what
they did without importing the simulator. A network appends one :class:`Op` per
unit of work to its ``recorder`` when one is attached::

    net.recorder = Recorder()
    net.forward(x)
    net.recorder.ops      # -> list[Op]

With ``net.recorder = None`` (the default) nothing is recorded and nothing is
paid. ``sim.engine.simulate`` later replays an op list through a hardware model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

OpKind = Literal[
    "digital_compute",  # arithmetic on a CPU/GPU: flops and bytes moved
    "mesh_pass",  # light sent through one mesh layer (forward, adjoint or sum)
    "tap_readout",  # powers read from the monitor taps at every phase shifter
    "phase_update",  # new phases written to the shifters (DACs, settling)
    "detect",  # output powers or fields read by the detector/ADC bank
]
Direction = Literal["forward", "backward", "adjoint", "sum", "update", "none"]

OP_KINDS: tuple[str, ...] = get_args(OpKind)
DIRECTIONS: tuple[str, ...] = get_args(Direction)


@dataclass(frozen=True, slots=True)
class Op:
    """One unit of hardware work.

    Parameters
    ----------
    kind
        What was done; one of :data:`OP_KINDS`.
    layer
        Index of the network layer (0-based) the work belongs to.
    direction
        Which pass it is part of; one of :data:`DIRECTIONS`.
    n_ports
        Width of the layer: optical ports of a mesh, or output units of a
        dense layer.
    n_samples
        Number of input vectors processed (the batch size of the pass).
    flops
        Floating-point operations (digital work), counting a multiply-add as 2.
    bytes
        Bytes moved to or from memory (digital work).
    conversions
        Analog/digital conversions (DAC writes plus ADC reads).
    passes
        Optical passes through the mesh (each pass is one set of input
        vectors sent through).
    n_phases
        Phase shifters touched (read at taps or written).
    """

    kind: OpKind
    layer: int
    direction: Direction
    n_ports: int
    n_samples: int
    flops: int = 0
    bytes: int = 0
    conversions: int = 0
    passes: int = 0
    n_phases: int = 0

    def __post_init__(self) -> None:
        if self.kind not in OP_KINDS:
            raise ValueError(f"kind={self.kind!r} is not one of {OP_KINDS}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction={self.direction!r} is not one of {DIRECTIONS}")
        for name in (
            "layer",
            "n_ports",
            "n_samples",
            "flops",
            "bytes",
            "conversions",
            "passes",
            "n_phases",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}={value!r} must be a non-negative int")


@dataclass
class Recorder:
    """An append-only list of :class:`Op` records.

    Attach one to a network (``net.recorder = Recorder()``); the network calls
    :meth:`record` for every unit of work it does.
    """

    ops: list[Op] = field(default_factory=list)

    def record(self, op: Op) -> None:
        """Append one op."""
        self.ops.append(op)

    def clear(self) -> None:
        """Forget every op recorded so far."""
        self.ops.clear()

    def __len__(self) -> int:
        return len(self.ops)


def dense_flops(n_samples: int, n_in: int, n_out: int) -> int:
    """FLOPs of a dense real matrix product ``(n_samples, n_in) @ (n_in, n_out)``.

    A multiply-add counts as 2 FLOPs.
    """
    return 2 * n_samples * n_in * n_out
