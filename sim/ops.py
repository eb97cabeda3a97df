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

How the simulator reads the counts (``sim/engine.py``; recorders should follow it)
---------------------------------------------------------------------------------
- ``mesh_pass``: ``passes`` input vectors are sent through one ``n_ports``-port mesh;
  a batch of B vectors is ``passes=B``. ``inject`` says how each input port is
  modulated: ``"amplitude"`` (a real amplitude, sign included: one DAC sample and
  one modulator symbol per port) or ``"field"`` (a complex field, amplitude and
  phase: an I/Q modulator, two DAC samples and two symbols per port, I and Q).
  ``conversions`` counts the DAC samples that modulate the inputs plus the ADC reads
  of the outputs: the first ``min(conversions, k·passes·n_ports)`` are input samples
  (``k`` = 1 for ``"amplitude"``, 2 for ``"field"``), the rest are output reads. So
  with ``inject="amplitude"``, ``2·passes·n_ports`` means "modulate every input,
  detect every output" and ``3·passes·n_ports`` adds a second read per port (a
  coherent I/Q field measurement); with ``inject="field"`` the same reads come on
  top of ``2·passes·n_ports`` input samples (``3·`` and ``4·passes·n_ports``).
  ``meshes`` is how many meshes the light crosses in series between the modulators
  and the detectors (an SVD layer: ``V``, the attenuators and ``U`` on one chip, 2):
  the optical delay and the loss the laser is sized for grow with it (the meshes'
  columns and an attenuator column between each two,
  :func:`sim.hardware.mesh_depth`), the conversions and the MACs (one ``N×N`` product
  per vector) do not.
- ``tap_readout``: ``conversions`` tap reads (0 means ``n_phases·n_samples``, one
  read per shifter per sample; ``n_phases`` alone means the taps integrated the
  whole batch).
- ``phase_update``: ``n_phases`` shifters written (0 means ``conversions``).
- ``detect``: ``conversions`` output reads (0 means ``n_ports·n_samples``).
- ``digital_compute``: ``flops`` and ``bytes``; ``bytes`` are counted at
  :data:`BYTES_PER_REAL` bytes per real number (the project's float64 arrays) and
  rescaled by a hardware model to its own word size.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

OpKind = Literal[
    "digital_compute",  # arithmetic on a CPU/GPU: flops and bytes moved
    "mesh_pass",  # light sent through one mesh layer (forward, adjoint or sum)
    "tap_readout",  # powers read from the monitor taps at every phase shifter
    "phase_update",  # new phases written to the shifters (DACs, settling)
    "detect",  # output powers or fields read by the detector/ADC bank
]
Direction = Literal["forward", "backward", "adjoint", "sum", "probe", "update", "none"]
# "probe": the work of a finite-difference gradient measurement (its perturbing phase
# writes and the evaluations of the perturbed network), whatever the op's kind.

# How the inputs of a mesh pass are modulated (see the module docstring).
Inject = Literal["amplitude", "field"]

OP_KINDS: tuple[str, ...] = get_args(OpKind)
INJECTS: tuple[str, ...] = get_args(Inject)
#: DAC samples (and modulator symbols) per input port and vector of each ``inject``.
SAMPLES_PER_PORT: dict[str, int] = {"amplitude": 1, "field": 2}
#: Bytes per real number assumed by ``Op.bytes`` (float64), see the module docstring.
BYTES_PER_REAL = 8
#: Bytes per complex number (complex128): two reals.
BYTES_PER_COMPLEX = 2 * BYTES_PER_REAL
DIRECTIONS: tuple[str, ...] = get_args(Direction)


def _count(value: object, name: str) -> int:
    """``int(value)`` of a non-negative integer, else ``ValueError`` naming ``name``.

    NumPy integers count (an ``np.int64`` from a shape or a sum); bools do not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name}={value!r} must be a non-negative int")
    return int(value)


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
        Width of the layer: optical ports of a mesh (≥ 1 for every kind but
        ``digital_compute``), or output units of a dense layer.
    n_samples
        Number of input vectors processed (the batch size of the pass).
    flops
        Floating-point operations (digital work), counting a multiply-add as 2.
    bytes
        Bytes moved to or from memory (digital work), at :data:`BYTES_PER_REAL`
        bytes per real number.
    conversions
        Analog/digital conversions (DAC writes plus ADC reads).
    passes
        Optical passes through the mesh: each pass is one input vector sent
        through, so a batch of B vectors is B passes.
    n_phases
        Phase shifters touched (read at taps or written).
    inject
        How a ``mesh_pass`` modulates its inputs: ``"amplitude"`` (default; one DAC
        sample per port and vector) or ``"field"`` (amplitude and phase, I and Q:
        two). Any other kind of op injects nothing and must keep the default.
    meshes
        Meshes a ``mesh_pass``'s light crosses in series, ≥ 1 (default 1; 2 for an
        SVD layer's ``V`` and ``U``). Any other kind of op must keep the default.
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
    inject: Inject = "amplitude"
    meshes: int = 1

    def __post_init__(self) -> None:
        if self.kind not in OP_KINDS:
            raise ValueError(f"kind={self.kind!r} is not one of {OP_KINDS}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction={self.direction!r} is not one of {DIRECTIONS}")
        if self.inject not in INJECTS:
            raise ValueError(f"inject={self.inject!r} is not one of {INJECTS}")
        if self.inject != "amplitude" and self.kind != "mesh_pass":
            raise ValueError(
                f"inject={self.inject!r} applies to a mesh_pass only; a {self.kind} op "
                "injects no light and must keep inject='amplitude'"
            )
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
            # plain ints from here on: hash, JSON and repr as the caller's ints
            object.__setattr__(self, name, _count(getattr(self, name), name))
        if self.kind != "digital_compute" and self.n_ports < 1:  # simulate would refuse it
            raise ValueError(
                f"n_ports={self.n_ports!r} must be ≥ 1 for a {self.kind} op: light needs a "
                "port (only a digital_compute op may have none)"
            )
        meshes = _count(self.meshes, "meshes")
        if meshes < 1 or (meshes != 1 and self.kind != "mesh_pass"):
            raise ValueError(
                f"meshes={self.meshes!r} must be an int ≥ 1, and 1 for any op but a "
                f"mesh_pass (this is a {self.kind})"
            )
        object.__setattr__(self, "meshes", meshes)
        inputs = SAMPLES_PER_PORT[self.inject] * self.passes * self.n_ports
        if self.kind == "mesh_pass" and 0 < self.conversions < inputs:
            raise ValueError(
                f"a mesh_pass with inject={self.inject!r} modulates {inputs} input samples "
                f"({SAMPLES_PER_PORT[self.inject]} per port and vector); conversions="
                f"{self.conversions} cannot hold them (sim.ops.mesh_pass builds one)"
            )
        if self.kind == "mesh_pass" and self.passes != self.n_samples:
            raise ValueError(
                f"a mesh_pass sends each of its n_samples={self.n_samples} vectors through "
                f"once; passes={self.passes} must equal it (sim.ops.mesh_pass builds one)"
            )


@dataclass
class Recorder:
    """An append-only list of :class:`Op` records.

    Attach one to a network (``net.recorder = Recorder()``); the network calls
    :meth:`record` for every unit of work it does.

    Attributes
    ----------
    ops
        The records, in the order they were made (empty by default).
    """

    ops: list[Op] = field(default_factory=list)

    def record(self, op: Op) -> None:
        """Append one op.

        Parameters
        ----------
        op
            The record.
        """
        self.ops.append(op)

    def clear(self) -> None:
        """Forget every op recorded so far."""
        self.ops.clear()

    def __len__(self) -> int:
        return len(self.ops)


#: What a mesh pass reads at its exit: detected powers (one read per port), the complex
#: field (I and Q, two reads per port), or nothing (only its taps are read).
ExitRead = Literal["power", "field", "none"]
_READS_PER_PORT: dict[str, int] = {"power": 1, "field": 2, "none": 0}


def mesh_pass(
    layer: int,
    direction: Direction,
    *,
    n_ports: int,
    n_samples: int,
    exit_read: ExitRead,
    inject: Inject = "amplitude",
    meshes: int = 1,
) -> Op:
    """A batch of ``n_samples`` vectors sent through a mesh, every input modulated.

    ``conversions`` = the input DAC samples of ``inject`` plus the exit reads of
    ``exit_read`` (see the module docstring): with ``inject="amplitude"``, ``power`` →
    ``2·B·N``, ``field`` → ``3·B·N``, ``none`` → ``B·N``; ``inject="field"`` adds
    ``B·N`` to each (``3·B·N``, ``4·B·N``, ``2·B·N``).

    Parameters
    ----------
    layer
        Index of the network layer (0-based).
    direction
        Which pass it is part of; one of :data:`DIRECTIONS`.
    n_ports
        Ports N of the mesh.
    n_samples
        Vectors B sent through (``passes`` = ``n_samples``).
    exit_read
        What is read at the exit: ``"power"`` (one read per port), ``"field"`` (I and
        Q, two) or ``"none"`` (only the taps are read).
    inject
        What the modulators set at each input port: ``"amplitude"`` (a real
        amplitude, sign included — the encoded features, or a detected-and-re-emitted
        ``|z|``: one DAC sample per port) or ``"field"`` (a complex field, amplitude
        and phase — an adjoint source ``δ``, a sum pass's ``x − i·conj(x̂)``, the
        output of a complex activation: an I/Q modulator, two DAC samples per port).
        The engine charges every sample's DAC energy, modulator symbol and link
        bytes; how long the samples take follows the modulator's DAC ``channels``
        (:mod:`sim.engine`).
    meshes
        Meshes the light crosses in series before it is read, ≥ 1: 2 for an SVD
        layer (``V``, the attenuator column, ``U``, with nothing detected between),
        which is modulated and read once but has the optical delay and the loss of
        both meshes' columns and the attenuator column between them
        (:func:`sim.hardware.mesh_depth`; the laser is sized for all of them).

    Returns
    -------
    Op
        ``kind="mesh_pass"``, ``passes=n_samples``, ``inject`` and the
        ``conversions`` above.

    Raises
    ------
    ValueError
        If ``exit_read``, ``inject`` or ``direction`` is not allowed, or a count is not
        a non-negative int.
    """
    if exit_read not in _READS_PER_PORT:
        raise ValueError(f"exit_read={exit_read!r} must be one of {tuple(_READS_PER_PORT)}")
    if inject not in SAMPLES_PER_PORT:
        raise ValueError(f"inject={inject!r} must be one of {INJECTS}")
    per_port = SAMPLES_PER_PORT[inject] + _READS_PER_PORT[exit_read]
    n_ports, n_samples = _count(n_ports, "n_ports"), _count(n_samples, "n_samples")
    return Op(
        kind="mesh_pass",
        layer=layer,
        direction=direction,
        n_ports=n_ports,
        n_samples=n_samples,
        passes=n_samples,
        conversions=per_port * n_samples * n_ports,
        inject=inject,
        meshes=meshes,
    )


def tap_readout(
    layer: int,
    direction: Direction,
    *,
    n_ports: int,
    n_samples: int,
    n_phases: int,
    integrated: Literal["per_sample", "batch"],
) -> Op:
    """The tap powers at ``n_phases`` shifters read during one pass of a batch.

    ``integrated="per_sample"``: every sample's taps are read (``n_phases·B``
    conversions); ``"batch"``: the photodiodes integrate the batch and are read once
    (``n_phases``).

    Parameters
    ----------
    layer
        Index of the network layer (0-based).
    direction
        The pass whose taps are read; one of :data:`DIRECTIONS`.
    n_ports
        Ports N of the mesh.
    n_samples
        Samples B in the pass.
    n_phases
        Phase shifters whose taps are read.
    integrated
        ``"per_sample"`` or ``"batch"``, as above.

    Returns
    -------
    Op
        ``kind="tap_readout"`` with ``n_phases`` and the ``conversions`` above.

    Raises
    ------
    ValueError
        If ``integrated`` or ``direction`` is not allowed, or a count is not a
        non-negative int.
    """
    if integrated not in ("per_sample", "batch"):
        raise ValueError(f"integrated={integrated!r} must be 'per_sample' or 'batch'")
    n_phases, n_samples = _count(n_phases, "n_phases"), _count(n_samples, "n_samples")
    reads = n_phases * (n_samples if integrated == "per_sample" else 1)
    return Op(
        kind="tap_readout",
        layer=layer,
        direction=direction,
        n_ports=n_ports,
        n_samples=n_samples,
        n_phases=n_phases,
        conversions=reads,
    )


def phase_update(layer: int, *, n_ports: int, n_phases: int, direction: Direction = "update") -> Op:
    """``n_phases`` shifters of one layer written (one DAC sample each, then settling).

    Parameters
    ----------
    layer
        Index of the network layer (0-based).
    n_ports
        Ports N of the layer's mesh.
    n_phases
        Phase shifters written.
    direction
        ``"update"`` (an optimizer step, the default) or any other of
        :data:`DIRECTIONS`, e.g. ``"probe"`` for a finite-difference perturbation.

    Returns
    -------
    Op
        ``kind="phase_update"``, ``n_samples=0``, ``conversions=n_phases``.

    Raises
    ------
    ValueError
        If ``direction`` is not allowed, or a count is not a non-negative int.
    """
    return Op(
        kind="phase_update",
        layer=layer,
        direction=direction,
        n_ports=n_ports,
        n_samples=0,
        n_phases=n_phases,
        conversions=n_phases,
    )


# -- host work --------------------------------------------------------------------------

#: Assumption: ≈ 10 FLOPs per output for a softmax cross-entropy loss and its gradient.
LOSS_FLOPS_PER_OUTPUT = 10
#: Assumption: ≈ 12 FLOPs per parameter for an Adam update (moments, bias correction, step).
ADAM_FLOPS_PER_PARAM = 12
#: Adam touches param, grad, m, v (read) and param, m, v (write): 7 float64 words.
ADAM_BYTES_PER_PARAM = 7 * BYTES_PER_REAL
#: FLOPs and bytes per real parameter of each update rule of ``digital.optim``:
#: ``"sgd"`` p − lr·g (reads p, g; writes p); ``"momentum"`` v = βv + g, p − lr·v
#: (reads p, g, v; writes p, v); ``"adam"`` as :data:`ADAM_FLOPS_PER_PARAM` and
#: :data:`ADAM_BYTES_PER_PARAM`.
UPDATE_COSTS: dict[str, tuple[int, int]] = {
    "sgd": (2, 3 * BYTES_PER_REAL),
    "momentum": (4, 5 * BYTES_PER_REAL),
    "adam": (ADAM_FLOPS_PER_PARAM, ADAM_BYTES_PER_PARAM),
}
#: Assumption: ≈ 6 host FLOPs per element for one activation (or its derivative
#: applied to δ), real or complex, for every activation of the project.
ACTIVATION_FLOPS = 6
#: Bytes per number of each kind of array an activation reads and writes.
_VALUE_BYTES: dict[str, int] = {"real": BYTES_PER_REAL, "complex": BYTES_PER_COMPLEX}


def digital_compute(
    layer: int,
    direction: Direction,
    *,
    n_ports: int,
    n_samples: int,
    flops: int,
    bytes_moved: int,
) -> Op:
    """Arithmetic on the host (CPU/GPU): ``flops`` and ``bytes_moved`` for one op.

    Parameters
    ----------
    layer
        Index of the network layer it belongs to (0-based).
    direction
        Which part of the step it is (:data:`DIRECTIONS`).
    n_ports, n_samples
        The width and batch of the data it works on.
    flops
        Floating-point operations, an int ≥ 0.
    bytes_moved
        Bytes moved to or from memory, an int ≥ 0 (:data:`BYTES_PER_REAL` per number).

    Returns
    -------
    Op
        ``kind="digital_compute"``.
    """
    return Op(
        kind="digital_compute",
        layer=layer,
        direction=direction,
        n_ports=n_ports,
        n_samples=n_samples,
        flops=flops,
        bytes=bytes_moved,
    )


def loss_op(layer: int, *, n_samples: int, n_outputs: int, direction: Direction = "forward") -> Op:
    """The host's softmax cross-entropy and its gradient over the network's outputs.

    :data:`LOSS_FLOPS_PER_OUTPUT` per output; the outputs read and ``dL/dy`` written
    (two float64 words per output).

    Parameters
    ----------
    layer
        Layer index the op is booked to.
    n_samples, n_outputs
        The outputs' shape.
    direction
        The op's direction.

    Returns
    -------
    Op
        A ``digital_compute`` op.
    """
    return digital_compute(
        layer,
        direction,
        n_ports=n_outputs,
        n_samples=n_samples,
        flops=LOSS_FLOPS_PER_OUTPUT * n_samples * n_outputs,
        bytes_moved=2 * BYTES_PER_REAL * n_samples * n_outputs,
    )


def update_op(
    layer: int, *, n_params: int, n_ports: int, rule: Literal["sgd", "momentum", "adam"]
) -> Op:
    """The host's optimizer update of ``n_params`` real parameters, as one op.

    Parameters
    ----------
    layer
        Index of the network layer the op is filed under (0-based).
    n_params
        Real numbers updated (a complex parameter counts twice, see
        :func:`n_real_params`).
    n_ports
        Width of the layer (informative only).
    rule
        The update rule, a key of :data:`UPDATE_COSTS`: its FLOPs and bytes per
        parameter.

    Returns
    -------
    Op
        ``kind="digital_compute"``, direction ``"update"``.

    Raises
    ------
    ValueError
        If ``rule`` is not a key of :data:`UPDATE_COSTS`, or ``n_params`` is not a
        non-negative int.
    """
    if not isinstance(rule, str) or rule not in UPDATE_COSTS:
        raise ValueError(f"rule={rule!r} must be one of {tuple(UPDATE_COSTS)}")
    n_params = _count(n_params, "n_params")  # not a product's name (flops=-36) or a bool
    flops, bytes_per_param = UPDATE_COSTS[rule]
    return digital_compute(
        layer,
        "update",
        n_ports=n_ports,
        n_samples=1,
        flops=flops * n_params,
        bytes_moved=bytes_per_param * n_params,
    )


def adam_op(layer: int, *, n_params: int, n_ports: int) -> Op:
    """The host's Adam update of the real parameters of one layer.

    Parameters
    ----------
    layer
        Layer index.
    n_params
        Real parameters updated; each costs :data:`ADAM_FLOPS_PER_PARAM` and
        :data:`ADAM_BYTES_PER_PARAM`.
    n_ports
        The layer's width.

    Returns
    -------
    Op
        A ``digital_compute`` op, direction ``"update"``.
    """
    return update_op(layer, n_params=n_params, n_ports=n_ports, rule="adam")


def n_real_params(params: Mapping[str, Any]) -> int:
    """Real numbers in a dict of arrays (``net.params()``): a complex entry counts twice.

    Parameters
    ----------
    params
        Arrays keyed by name.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``params`` is not a mapping of arrays.
    """
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params is a {type(params).__name__}; expected a dict of arrays such as net.params()"
        )
    for name, value in params.items():
        if not hasattr(value, "size") or not hasattr(value, "dtype"):
            raise TypeError(f"params[{name!r}] is a {type(value).__name__}; expected an array")
    return sum(int(v.size) * (2 if v.dtype.kind == "c" else 1) for v in params.values())


def activation_op(
    layer: int,
    direction: Literal["forward", "backward"],
    *,
    n_ports: int,
    n_samples: int,
    values: Literal["real", "complex"] = "complex",
) -> Op:
    """An activation (or its derivative applied to δ) on the host, as a ``digital_compute`` op.

    Elementwise work over ``n_samples × n_ports`` numbers: :data:`ACTIVATION_FLOPS`
    per element, one array read and one written. The one definition of this cost:
    ``photonic.network.PhotonicNetwork`` records its host activations with it (complex
    fields) and ``digital.network.MLP`` its own (real or complex, as its weights).

    Parameters
    ----------
    layer
        Index of the network layer (0-based).
    direction
        ``"forward"`` (the activation) or ``"backward"`` (its derivative applied to δ).
    n_ports
        Width of the activated array (ports of a mesh, units of a dense layer).
    n_samples
        Samples in the batch.
    values
        ``"complex"`` (default: complex128, :data:`BYTES_PER_COMPLEX` per number) or
        ``"real"`` (float64, :data:`BYTES_PER_REAL`).

    Returns
    -------
    Op
        ``ACTIVATION_FLOPS·n_samples·n_ports`` FLOPs and ``2·n_samples·n_ports``
        numbers moved.

    Raises
    ------
    ValueError
        If ``values`` is not allowed, or a count is negative or not an int.
    """
    if values not in _VALUE_BYTES:
        raise ValueError(f"values={values!r} must be one of {tuple(_VALUE_BYTES)}")
    n_ports, n_samples = _count(n_ports, "n_ports"), _count(n_samples, "n_samples")
    return digital_compute(
        layer,
        direction,
        n_ports=n_ports,
        n_samples=n_samples,
        flops=ACTIVATION_FLOPS * n_samples * n_ports,
        bytes_moved=_VALUE_BYTES[values] * n_samples * n_ports * 2,
    )
