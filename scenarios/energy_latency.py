"""Energy and latency: what a forward pass and a training step cost on photonic chips vs GPU/CPU.

What it covers
--------------
For every preset (``sim/presets``) and every mesh size N in ``ports`` and batch B in
``batches`` it replays op traces through ``sim.engine.simulate`` and reports energy
per MAC, TOPS/W and latency of one inference (an L-layer network of N-port meshes)
and of one training step:

- photonic presets: inference = :func:`inference_ops` (exactly what
  ``photonic.network.PhotonicNetwork.forward`` records when the outputs' powers
  suffice, i.e. ``gradient`` is not measured on the chip); training step =
  :func:`insitu_step_ops`, the three-pass in-situ gradient of DESIGN.md §4.4
  (forward, adjoint and sum passes with tap readouts per layer, then a phase
  update), generated synthetically so that N and B can reach 256. It can differ from
  what a ``PhotonicNetwork(gradient="in_situ")`` step records (``photonic/insitu.py``;
  the same 3 passes per layer — the inference pass's taps are read — but the taps
  may be read per sample): the ``recorded_vs_synthetic`` rows compare both at the
  Pai et al. shape on every photonic preset;
- digital presets: the complex ``digital.network.MLP`` of the same shape (the
  matrix each mesh applies), its ops recorded by the MLP itself — its matrix
  products and its activations (``|z|`` between layers, ``|y|²`` for the detection
  the chip does optically) with their derivatives, at the elementwise cost the
  photonic network's host pays for its activations (:func:`sim.ops.activation_op`)
  — plus the loss and an Adam update.

MACs are complex multiply-accumulates of the N×N layer matrices: ``L·B·N²`` per
inference and ``3·L·B·N²`` per training step (forward, backward and weight-gradient
products, the three passes per layer of in-situ training; digital backprop skips the
first layer's input gradient and computes ``(3L − 1)·B·N²``, but is charged only
for what it records); the same counts divide the photonic and the digital
energies. TOPS/W = 2·MACs / energy in pJ: a complex MAC counts as 2 operations, as a
real one does (counted as 4 real multiplies and 4 adds it would be 8, and every TOPS/W
here 4× higher). Ratios between presets do not depend on this convention; a
comparison with a published TOPS/W figure does, so check which one it uses.

Figures
-------
- ``scaling``: energy per MAC, TOPS/W and latency vs N (at ``reference_batch``) and
  vs B (at ``reference_ports``), inference solid, training step dashed. Energy per
  MAC first falls with N (fixed costs shared by N² MACs) and then rises steeply: the
  laser is sized so that every detector still gets its required power after the
  mesh's loss (:func:`sim.hardware.laser_electrical_power_mw`), and that loss grows
  linearly in dB with the mesh depth, so the laser power grows exponentially with N.
  The sweep rows' ``laser_optical_mw`` show it: eo-integrated (0.1 dB/MZI) needs
  28 mW of light at N = 64 and 9.2 W at N = 256, thermal-integrated (0.2 dB/MZI)
  153 mW and 4.2 kW. Watts of light on a chip are far beyond what its waveguides
  carry, so read the large-N points as "this loss does not scale", not as a design:
  points that need more than ``max_laser_optical_mw`` (1 W by default, an assumption
  explained in :class:`Config`) are drawn hollow here, in ``passes_per_step`` and in
  ``crossover``, hatched in ``heatmaps``, and listed in the summary's
  ``over_laser_limit``. The summary's ``over_power_limit`` lists the points whose
  mean power (the rows' ``mean_power_mw``) exceeds 700 W, an H100 board's TDP
  (:data:`sim.report.PLAUSIBLE_POWER_MW`): thermal-integrated at N = 256 holds
  131k heaters and draws kilowatts, whatever the laser.
- ``breakdown``: stacked shares of energy and of time per training step by
  component at ``reference_ports × reference_batch``, totals on top.
- ``heatmaps``: in-situ MVM TOPS/W (one forward pass of one layer) and gradient
  TOPS/W (adjoint and sum passes, tap readouts, combination; 4·B·N² operations) over
  N × B — "chip" leaves out the digital host, "system" counts everything.
- ``passes_per_step``: mesh passes per layer per training step and time per step vs
  N for in-situ (3 passes per layer), finite differences and digital backprop, with
  the log-log slopes. The finite-difference pattern is synthetic
  (:func:`finite_difference_step_ops`): 2 full-network evaluations per phase shifter
  (θ ± h), N(N − 1) + N shifters per layer; its traces are counted op by op up to
  ``fd_count_max_ports`` and by the closed form above it, and its time and energy
  come from replaying one shifter's block and multiplying (exact: ops run in order).
- ``crossover``: a photonic preset's inference energy per MAC vs a digital one's
  (``crossover_presets``; by default ``eo-integrated`` vs ``gpu-h100``).

The summary opens with each preset's training-step energy per MAC at
``reference_ports × reference_batch`` (``<preset>_train_step_pj_per_mac``, a sweep's
default metric; named without N and B, so that a sweep over the reference size keeps
the key). Acceptance figures in the summary: ``gpu-h100`` energy per
FLOP at full utilization
(a compute-bound 16384³ GEMM) vs its 0.71 pJ/FLOP spec; the share of a
``pai2023-chip`` training step spent in camera frames and settling (synthetic step
at the Pai shape, the recorded trace, and the minimum over the N × B grid); the N
where the photonic preset of ``crossover_presets`` (``eo-integrated``) drops below the
digital one (``gpu-h100``) in energy per MAC (against the digital preset simulated on
the same inference and at full utilization, per complex and per real MAC); the wall
time and SimPy events per second of replaying a real ``replay_steps``-step training
trace (``PhotonicNetwork.pai2023`` trained in situ on moons, recorded op by op) and a
``replay_ops``-op trace (that recording repeated).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from digital.network import MLP
from digital.validation import check_choice, check_positive, check_positive_int
from photonic.insitu import combine_op
from scenarios.framework import (
    Result,
    child_rngs,
    new_figure,
    save_figure,
    scenario_main,
    write_metrics,
)
from sim.engine import Timeline, simulate
from sim.hardware import DigitalHardware, Hardware, PhotonicHardware, laser_electrical_power_mw
from sim.ops import (
    BYTES_PER_REAL,
    Op,
    activation_op,
    digital_compute,
    loss_op,
    mesh_pass,
    n_real_params,
    phase_update,
    tap_readout,
    update_op,
)
from sim.presets import available_presets, check_presets, load_preset
from sim.report import (
    PLAUSIBLE_POWER_MW,
    format_energy_pj,
    format_si,
    format_time_ns,
    summarize,
    time_share,
    tops_per_w,
)

__all__ = [
    "NAME",
    "Config",
    "digital_inference_ops",
    "digital_step_ops",
    "fd_passes_per_step",
    "fd_step_cost",
    "finite_difference_step_ops",
    "inference_ops",
    "insitu_step_ops",
    "main",
    "run",
    "shifters_per_layer",
]

NAME = "energy_latency"
TapIntegration = Literal["batch", "per_sample"]

#: Camera frames and settling: the components of pai2023-chip's "slow physics".
SLOW_COMPONENTS = ("camera", "phase_settling", "modulator_settling")
#: Size of the compute-bound GEMM used to measure energy per FLOP at full utilization.
FULL_UTILIZATION_GEMM = 16384
#: Batch of the recorded in-situ training of PhotonicNetwork.pai2023.
RECORDED_BATCH = 4
#: Recorded steps compared with the synthetic in-situ step on every photonic preset.
COMPARISON_STEPS = 10
#: The network of Pai et al. 2023: 4 ports, 3 layers.
PAI_SHAPE = (4, 3)
#: GPU preset and optimistic photonic preset compared for the crossover.
GPU_PRESET = "gpu-h100"
EO_PRESET = "eo-integrated"
PAI_PRESET = "pai2023-chip"
#: Spec energy per FLOP of the H100 at BF16, pJ (parameters.md: 700 W / 989 TFLOP/s).
H100_SPEC_PJ_PER_FLOP = 0.71
#: N and B the reference size (``reference_ports``, ``reference_batch``) is nearest to
#: when not set: a mid-size mesh and batch of the default grid.
PREFERRED_REFERENCE = 64
#: The presets of a default run, in the order that also fixes their colours in the figures.
DEFAULT_PRESETS = ("pai2023-chip", "thermal-integrated", "eo-integrated", "gpu-h100", "cpu")


# --------------------------------------------------------------------------- traces


def shifters_per_layer(n_ports: int) -> int:
    """Phase shifters of one N-port mesh: N(N − 1) in the MZIs plus N at the output."""
    return n_ports * (n_ports - 1) + n_ports


def _activation(layer: int, direction: Literal["forward", "backward"], n: int, b: int) -> Op:
    return activation_op(layer, direction, n_ports=n, n_samples=b)


def _forward_pass(layer: int, n: int, b: int, direction: Literal["forward", "backward"]) -> Op:
    return mesh_pass(layer, direction, n_ports=n, n_samples=b, exit_read="power")


def _loss(n_layers: int, n: int, b: int, direction: Literal["forward", "backward"]) -> Op:
    return loss_op(n_layers - 1, n_samples=b, n_outputs=n, direction=direction)


def _evaluate(n: int, n_layers: int, b: int, direction: Literal["forward", "backward"]) -> list[Op]:
    ops: list[Op] = []
    for layer in range(n_layers):
        ops.append(_forward_pass(layer, n, b, direction))
        if layer < n_layers - 1:
            ops.append(_activation(layer, direction, n, b))
    return ops


def _check_shape(n_ports: int, n_layers: int, batch: int) -> None:
    if isinstance(n_ports, bool) or not isinstance(n_ports, int) or n_ports < 2:
        raise ValueError(f"n_ports={n_ports!r} must be an int ≥ 2")
    check_positive_int(n_layers, "n_layers")
    check_positive_int(batch, "batch")


def inference_ops(n_ports: int, n_layers: int, batch: int) -> list[Op]:
    """One forward pass of an L-layer network of N-port unitary meshes.

    Exactly what ``PhotonicNetwork(n_ports, n_layers, n_features=n_ports).forward``
    records for a batch (``|z|`` between layers, its default): per layer a
    ``mesh_pass`` (every input modulated as a real amplitude, one DAC sample per port:
    the features, then the detected ``|z|``; every output detected) and, between
    layers, the host's activation.
    """
    _check_shape(n_ports, n_layers, batch)
    return _evaluate(n_ports, n_layers, batch, "forward")


def _update(n_layers: int, n: int) -> list[Op]:
    """Adam on the host for all layers' phases at once (one op, as
    :func:`digital.train.train` records it), then every layer's phases written (the
    writes back to back, so the shifters settle once, as after ``set_params``)."""
    s = shifters_per_layer(n)
    adam = update_op(n_layers - 1, n_params=n_layers * s, n_ports=1, rule="adam")
    return [adam, *(phase_update(layer, n_ports=n, n_phases=s) for layer in range(n_layers))]


def insitu_step_ops(
    n_ports: int, n_layers: int, batch: int, *, tap_integration: TapIntegration = "batch"
) -> list[Op]:
    """One in-situ training step (DESIGN.md §4.4): three passes per layer, taps read each.

    The network has ``|z|`` between layers (as :func:`inference_ops`). Per layer,
    forward: ``mesh_pass`` (real amplitudes injected, one DAC sample per port; the
    output field measured by two reads per port, I and Q: the adjoint source and the
    activation's derivative need its phase) and a ``tap_readout`` of its N² shifters;
    the loss on the host. Backward, last layer first: the activation derivative on the
    host; the adjoint ``mesh_pass`` (the complex δ injected from the outputs, I and Q:
    two DAC samples per port; the complex field x̂ measured at the inputs by two reads
    per port); a ``tap_readout``; the sum ``mesh_pass`` (the complex x − i·conj(x̂)
    injected, two DAC samples per port; nothing read at the outputs); a
    ``tap_readout``; the host combines ``(I_sum − I_fwd − I_adj)/2``. Update: Adam on
    the host for every layer, then a ``phase_update`` of the N² shifters of every
    layer, back to back (they settle once).

    Parameters
    ----------
    n_ports, n_layers, batch
        N ≥ 2, L ≥ 1, B ≥ 1.
    tap_integration
        ``"batch"``: the tap photodiodes integrate the whole batch and are read once
        per pass (the gradient is a sum over the batch; Pai et al.'s analog batch
        measurement); ``"per_sample"``: every sample's tap powers are read.
    """
    _check_shape(n_ports, n_layers, batch)
    check_choice(tap_integration, "tap_integration", ("batch", "per_sample"))
    n, b, s = n_ports, batch, shifters_per_layer(n_ports)
    reads = s if tap_integration == "batch" else s * b

    def taps(layer: int, direction: Literal["forward", "adjoint", "sum"]) -> Op:
        return tap_readout(
            layer, direction, n_ports=n, n_samples=b, n_phases=s, integrated=tap_integration
        )

    ops: list[Op] = []
    for layer in range(n_layers):
        ops.append(  # x injected, the output field read (I and Q): δ needs its phase
            mesh_pass(layer, "forward", n_ports=n, n_samples=b, exit_read="field")
        )
        ops.append(taps(layer, "forward"))
        if layer < n_layers - 1:
            ops.append(_activation(layer, "forward", n, b))
    ops.append(_loss(n_layers, n, b, "forward"))
    for layer in reversed(range(n_layers)):
        if layer < n_layers - 1:
            ops.append(_activation(layer, "backward", n, b))
        ops.append(  # δ injected (I and Q), x̂ measured at the inputs (I and Q)
            mesh_pass(layer, "adjoint", n_ports=n, n_samples=b, exit_read="field", inject="field")
        )
        ops.append(taps(layer, "adjoint"))
        ops.append(  # x − i·conj(x̂) injected (I and Q), only the taps read
            mesh_pass(layer, "sum", n_ports=n, n_samples=b, exit_read="none", inject="field")
        )
        ops.append(taps(layer, "sum"))
        ops.append(combine_op(layer, n_ports=n, n_samples=b, reads=reads))
    ops.extend(_update(n_layers, n))
    return ops


def _fd_block(layer: int, n_ports: int, n_layers: int, batch: int) -> list[Op]:
    """Finite differences for one shifter: write θ+h, evaluate, write θ−h, evaluate,
    write θ back (as :class:`~photonic.network.PhotonicNetwork` records them, all with
    direction ``"probe"``; the restore and the next shifter's θ+h are back-to-back
    writes that settle once)."""
    ops: list[Op] = []
    for _ in range(2):
        ops.append(phase_update(layer, n_ports=n_ports, n_phases=1))
        ops.extend(_evaluate(n_ports, n_layers, batch, "forward"))
        ops.append(_loss(n_layers, n_ports, batch, "forward"))
    ops.append(phase_update(layer, n_ports=n_ports, n_phases=1))
    return [dataclasses.replace(op, direction="probe") for op in ops]


def finite_difference_step_ops(n_ports: int, n_layers: int, batch: int) -> Iterator[Op]:
    """One training step by central finite differences (synthetic pattern), lazily.

    A forward pass and the loss; then for every phase shifter of every layer (N(N −
    1) + N per layer): write θ + h, evaluate the whole network and the loss, write
    θ − h, evaluate again, write θ back — 2 evaluations (2·L mesh passes) and 3
    writes per shifter; then the update of every layer. Yields
    ``2L + L·S·(2·(2L + 1) + 1) + 2L`` ops (S shifters per layer).
    """
    _check_shape(n_ports, n_layers, batch)
    yield from _evaluate(n_ports, n_layers, batch, "forward")
    yield _loss(n_layers, n_ports, batch, "forward")
    for layer in range(n_layers):
        block = _fd_block(layer, n_ports, n_layers, batch)
        for _ in range(shifters_per_layer(n_ports)):
            yield from block
    yield from _update(n_layers, n_ports)


def fd_passes_per_step(n_ports: int, n_layers: int) -> int:
    """Mesh passes of :func:`finite_difference_step_ops`: ``L + 2·L·S·L`` (closed form)."""
    return n_layers + 2 * n_layers * shifters_per_layer(n_ports) * n_layers


def fd_step_cost(hardware: Hardware, n_ports: int, n_layers: int, batch: int) -> dict[str, Any]:
    """Latency and energy of one finite-difference step without building the whole trace.

    The ops run one after another and every shifter's block is the same work, so
    the step costs ``head + blocks + tail``. A block that follows another one costs
    ``T(2) − T(1)`` (its first write settles together with the previous block's
    restore), so ``blocks = T(1) + (L·S − 1)·(T(2) − T(1))``, with ``T(k)`` the replay
    of ``k`` blocks in a row: exactly what replaying :func:`finite_difference_step_ops`
    gives (the tests check it).

    Returns
    -------
    dict
        ``latency_ns``, ``energy_pj``, ``energy_by_component_pj``,
        ``time_by_component_ns``.

    Raises
    ------
    ValueError
        If the step's energy is beyond float64 (a laser sized for a very lossy mesh,
        times ``L·S`` blocks), naming ``n_ports``.
    """
    _check_shape(n_ports, n_layers, batch)
    head = [
        *_evaluate(n_ports, n_layers, batch, "forward"),
        _loss(n_layers, n_ports, batch, "forward"),
    ]
    block = _fd_block(0, n_ports, n_layers, batch)
    tail = _update(n_layers, n_ports)
    repeats = n_layers * shifters_per_layer(n_ports)
    one, two = simulate(block, hardware), simulate(block + block, hardware)
    # (timeline, weight): head + T(1) + (L·S − 1)·(T(2) − T(1)) + tail
    parts = [
        (simulate(head, hardware), 1),
        (one, 2 - repeats),
        (two, repeats - 1),
        (simulate(tail, hardware), 1),
    ]
    energy: dict[str, float] = {}
    times: dict[str, float] = {}
    for timeline, weight in parts:
        for key, value in timeline.energy_by_component_pj.items():
            energy[key] = energy.get(key, 0.0) + weight * value
        for key, value in timeline.time_by_component_ns.items():
            times[key] = times.get(key, 0.0) + weight * value
    try:
        total_pj = math.fsum(t.energy_pj * w for t, w in parts)
    except (OverflowError, ValueError):  # a term overflowed: inf − inf, or beyond float64
        total_pj = math.inf
    if not (math.isfinite(total_pj) and all(map(math.isfinite, energy.values()))):
        raise ValueError(
            f"n_ports={n_ports}: a finite-difference step ({repeats} shifters perturbed, "
            f"each by ±h) costs more energy on {hardware.name!r} than float64 holds; use "
            "fewer ports or less loss"
        )
    return {
        "latency_ns": math.fsum(t.latency_ns * w for t, w in parts),
        "energy_pj": total_pj,
        "energy_by_component_pj": energy,
        "time_by_component_ns": times,
    }


def _mlp(n_ports: int, n_layers: int) -> MLP:
    return MLP(
        [n_ports] * (n_layers + 1),
        activation=["abs"] * (n_layers - 1) + ["abs2"],
        rng=np.random.default_rng(0),
        dtype=complex,
        bias="none",
    )


def digital_inference_ops(n_ports: int, n_layers: int, batch: int) -> list[Op]:
    """The ops ``digital.network.MLP`` records for one forward pass of the complex twin."""
    _check_shape(n_ports, n_layers, batch)
    net = _mlp(n_ports, n_layers)
    from sim.ops import Recorder

    net.recorder = Recorder()
    net.forward(np.zeros((batch, n_ports)))
    return list(net.recorder.ops)


def digital_step_ops(n_ports: int, n_layers: int, batch: int) -> list[Op]:
    """One digital training step of the complex twin: MLP forward, loss, backward, Adam.

    The forward and backward ops are recorded by ``digital.network.MLP`` itself; the
    loss and the Adam update (which the MLP does not record) are added as
    ``digital_compute`` ops.
    """
    _check_shape(n_ports, n_layers, batch)
    from sim.ops import Recorder

    net = _mlp(n_ports, n_layers)
    net.recorder = Recorder()
    x = np.ones((batch, n_ports))
    y = net.forward(x)
    forward = list(net.recorder.ops)
    net.recorder.clear()
    net.backward(np.ones_like(y))
    backward = list(net.recorder.ops)
    n_params = n_real_params(net.params())  # complex weights: 2 real numbers each
    update = update_op(n_layers - 1, n_params=n_params, n_ports=1, rule="adam")
    return [*forward, _loss(n_layers, n_ports, batch, "forward"), *backward, update]


# --------------------------------------------------------------------------- config


def _check_int_tuple(value: object, name: str, minimum: int) -> tuple[int, ...]:
    if isinstance(value, list):
        value = tuple(value)
    if (
        not isinstance(value, tuple)
        or not value
        or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in value)
    ):
        raise ValueError(f"{name}={value!r} must be a non-empty tuple of ints ≥ {minimum}")
    if len(set(value)) != len(value):
        raise ValueError(f"{name}={value!r} must not repeat values")
    return tuple(sorted(value))


def _reference(value: object, values: tuple[int, ...], name: str, among: str) -> int:
    """``value`` checked to be one of ``values``; ``None``: the one nearest to
    :data:`PREFERRED_REFERENCE` on a log scale (of two, the larger)."""
    if value is None:
        return min(values, key=lambda v: (abs(math.log(v / PREFERRED_REFERENCE)), -v))
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value not in values:
        raise ValueError(
            f"{name}={value!r} must be one of {among}={values}: set {name} to one of them, "
            f"or to none for the one nearest {PREFERRED_REFERENCE}"
        )
    return int(value)


@dataclasses.dataclass(frozen=True)
class Config:
    """Settings of the energy and latency study.

    Attributes
    ----------
    ports : tuple of int
        Mesh sizes N (≥ 2), e.g. 4 … 256.
    batches : tuple of int
        Batch sizes B (≥ 1), e.g. 1 … 256.
    presets : tuple of str
        Preset names or paths of preset files (``sim.presets.load_preset``).
    n_layers : int
        Layers L of the network, ≥ 1.
    reference_ports : int or None
        N of the breakdown bars, of the summary's headline and of the "vs B" curves;
        one of ``ports``. ``None`` (default; ``none`` in ``--set``): the N of ``ports``
        nearest to PREFERRED_REFERENCE on a log scale (of two, the larger), so that a
        changed ``ports`` keeps a valid reference; the summary's ``reference_ports``
        says which.
    reference_batch : int or None
        B of the breakdown bars, of the summary's headline and of the "vs N" curves;
        one of ``batches``. ``None`` (default): the B of ``batches`` nearest to
        PREFERRED_REFERENCE, as for ``reference_ports``.
    tap_integration : str
        ``"batch"`` or ``"per_sample"`` tap reads in the in-situ step
        (:func:`insitu_step_ops`).
    fd_count_max_ports : int
        Finite-difference traces are generated and counted op by op up to this N;
        above it the closed form (:func:`fd_passes_per_step`) is used.
    heatmap_presets : tuple of str or None
        Photonic presets drawn in the TOPS/W heatmaps: entries of ``presets``, or the
        ``name`` of a preset file listed there. ``None`` (default; ``none`` in
        ``--set``): eo-integrated and thermal-integrated if ``presets`` has them, else
        its first photonic preset; ``()`` (``--set heatmap_presets=``, TOML ``[]``): no
        heatmaps.
    crossover_presets : tuple of str or None
        The photonic and the digital preset whose inference energy per MAC the
        ``crossover`` figure compares, in that order: entries of ``presets``, or the
        ``name`` of a preset file listed there (your own chip against a GPU, say).
        ``None`` (default; ``none`` in ``--set``): eo-integrated against gpu-h100 if
        ``presets`` has both, else no crossover; ``()`` (``--set crossover_presets=``,
        TOML ``[]``): no crossover. The summary's ``crossover_presets`` says which.
    max_laser_optical_mw : float or None
        Plausibility limit of the laser's optical power, mW: a photonic point whose
        ``laser_optical_mw`` (the light that gives every detector its power through the
        chip's loss) exceeds it is drawn hollow (hatched in the heatmaps, marked in the
        breakdown) and listed in the summary's ``over_laser_limit``; ``None``: no limit.
        Default 1000 (1 W), an assumption, not a parameters.md value: all the light
        enters through one waveguide before it is split to the N inputs, and in a
        silicon strip waveguide (mode area ≈ 0.1 µm² at 1550 nm) 1 W is ≈ 1 GW/cm²,
        where two-photon absorption alone (β ≈ 0.5–0.9 cm/GW) adds ≈ 2–4 dB per cm of
        waveguide before free-carrier absorption: a loss this linear model leaves out.
    replay_steps : int
        Steps of the training traces whose replay is timed (0: skip).
    replay_ops : int
        Ops of the long trace whose replay is timed (0: skip).
    seed : int
        Root seed (the data of the recorded PhotonicNetwork training trace).
    """

    ports: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256)
    batches: tuple[int, ...] = (1, 4, 16, 64, 256)
    presets: tuple[str, ...] = DEFAULT_PRESETS
    n_layers: int = 3
    reference_ports: int | None = None
    reference_batch: int | None = None
    tap_integration: str = "batch"
    fd_count_max_ports: int = 64
    heatmap_presets: tuple[str, ...] | None = None
    crossover_presets: tuple[str, ...] | None = None
    max_laser_optical_mw: float | None = 1000.0
    replay_steps: int = 1000
    replay_ops: int = 100_000
    seed: int = 0

    PRESET_FIELDS: ClassVar[tuple[str, ...]] = ("presets",)
    """Settings that list hardware presets (see :mod:`scenarios.framework`)."""

    @property
    def reference_size(self) -> tuple[int, int]:
        """``(N, B)`` of the breakdown, the headline and the cross-sections of the
        scaling plot: ``reference_ports`` and ``reference_batch`` with their defaults
        applied (see the class docstring)."""
        return (
            _reference(self.reference_ports, self.ports, "reference_ports", "ports"),
            _reference(self.reference_batch, self.batches, "reference_batch", "batches"),
        )

    @property
    def heatmaps(self) -> tuple[str, ...]:
        """The presets drawn in the heatmaps: ``heatmap_presets`` resolved to entries of
        ``presets`` (its default applied)."""
        return self._heatmap_presets()

    def _heatmap_presets(self) -> tuple[str, ...]:
        """``heatmap_presets`` as entries of ``presets`` (see the class docstring)."""
        heatmap = self.heatmap_presets
        loaded = {p: load_preset(p) for p in self.presets}
        if heatmap is None:
            photonic = [p for p, hw in loaded.items() if isinstance(hw, PhotonicHardware)]
            default = tuple(p for p in (EO_PRESET, "thermal-integrated") if p in photonic)
            return default or tuple(photonic[:1])
        if isinstance(heatmap, list):
            heatmap = tuple(heatmap)
        if not isinstance(heatmap, tuple) or any(not isinstance(p, str) for p in heatmap):
            raise ValueError(
                f"heatmap_presets={heatmap!r} must be a tuple of preset names or paths"
            )
        return tuple(
            self._entry(preset, "heatmap_presets", loaded, PhotonicHardware) for preset in heatmap
        )

    @property
    def crossover(self) -> tuple[str, str] | None:
        """The ``(photonic, digital)`` presets of the crossover: ``crossover_presets``
        resolved to entries of ``presets`` (its default applied), or ``None``."""
        chosen = self.crossover_presets
        loaded = {p: load_preset(p) for p in self.presets}
        if chosen is None:  # the default pair, if the run has both (by name or by file)
            names = {hw.name for hw in loaded.values()}
            if EO_PRESET not in names or GPU_PRESET not in names:
                return None
            chosen = (EO_PRESET, GPU_PRESET)
        if isinstance(chosen, list):
            chosen = tuple(chosen)
        if chosen == ():
            return None
        if (
            not isinstance(chosen, tuple)
            or len(chosen) != 2
            or any(not isinstance(p, str) for p in chosen)
        ):
            raise ValueError(
                f"crossover_presets={chosen!r} must be two preset names, a photonic one "
                "and a digital one (e.g. eo-integrated,gpu-h100), or () for none"
            )
        return (
            self._entry(chosen[0], "crossover_presets", loaded, PhotonicHardware),
            self._entry(chosen[1], "crossover_presets", loaded, DigitalHardware),
        )

    def _entry(
        self, preset: str, field: str, loaded: dict[str, Hardware], kind: type[Hardware]
    ) -> str:
        """The entry of ``presets`` that ``field`` names as ``preset`` (an entry, or the
        ``name`` of a preset file listed there), checked to be of ``kind``."""
        by_name = {hw.name: p for p, hw in loaded.items()}
        entry = preset if preset in loaded else by_name.get(preset)
        what = "photonic" if kind is PhotonicHardware else "digital"
        if entry is None:
            raise ValueError(
                f"{field} has {preset!r}, which is not in presets={self.presets!r}; "
                f"name {what} presets of the run, or none with --set {field}= (TOML: [])"
            )
        if not isinstance(loaded[entry], kind):
            raise ValueError(f"{field} has {preset!r}, which is not {what}")
        return entry

    def __post_init__(self) -> None:
        object.__setattr__(self, "ports", _check_int_tuple(self.ports, "ports", 2))
        object.__setattr__(self, "batches", _check_int_tuple(self.batches, "batches", 1))
        object.__setattr__(self, "presets", check_presets(self.presets))
        if isinstance(self.heatmap_presets, list):
            object.__setattr__(self, "heatmap_presets", tuple(self.heatmap_presets))
        if isinstance(self.crossover_presets, list):
            object.__setattr__(self, "crossover_presets", tuple(self.crossover_presets))
        self._heatmap_presets()  # checked now; None stays None, so that a changed
        _ = self.crossover  # ``presets`` (--set presets=…) gets its own default
        check_positive_int(self.n_layers, "n_layers")
        _ = self.reference_size  # checked now; None stays None, so that a changed
        # ``ports`` or ``batches`` (--set ports=…, also over --smoke) gets its own reference
        check_choice(self.tap_integration, "tap_integration", ("batch", "per_sample"))
        if self.max_laser_optical_mw is not None:
            try:
                limit = check_positive(self.max_laser_optical_mw, "max_laser_optical_mw")
            except TypeError as error:  # a string or a bool: a bad value, not a bad call
                raise ValueError(f"{error}, or None for no limit") from None
            object.__setattr__(self, "max_laser_optical_mw", limit)
        for name in ("fd_count_max_ports", "replay_steps", "replay_ops", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}={value!r} must be an int ≥ 0")

    @classmethod
    def smoke(cls) -> Config:
        """A run of a few seconds."""
        return cls(
            ports=(4, 8, 16),
            batches=(1, 16),
            fd_count_max_ports=8,
            replay_steps=20,
            replay_ops=2000,
        )


# --------------------------------------------------------------------------- study


def _workload_ops(
    hw: Hardware, workload: str, n: int, n_layers: int, b: int, tap: TapIntegration
) -> list[Op]:
    if isinstance(hw, DigitalHardware):
        return (digital_inference_ops if workload == "inference" else digital_step_ops)(
            n, n_layers, b
        )
    if workload == "inference":
        return inference_ops(n, n_layers, b)
    return insitu_step_ops(n, n_layers, b, tap_integration=tap)


def _macs(workload: str, n: int, n_layers: int, b: int) -> int:
    return (1 if workload == "inference" else 3) * n_layers * b * n * n


def _sig(x: float, digits: int = 4) -> float:
    """``x`` rounded to ``digits`` significant digits (for the summary table)."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    return round(float(x), digits - 1 - math.floor(math.log10(abs(x))))


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log y vs log x."""
    lx, ly = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    if len(lx) < 2:
        return float("nan")
    return float(np.polyfit(lx, ly, 1)[0])


def _crossings(ns: Sequence[int], photonic: Sequence[float], gpu: Sequence[float]) -> list[float]:
    """N where photonic − gpu changes sign (log-log interpolation between grid points)."""
    out: list[float] = []
    d = [math.log(p) - math.log(g) for p, g in zip(photonic, gpu, strict=True)]
    for i in range(len(ns) - 1):
        if (d[i] > 0) != (d[i + 1] > 0):
            t = d[i] / (d[i] - d[i + 1])
            out.append(
                float(math.exp(math.log(ns[i]) + t * (math.log(ns[i + 1]) - math.log(ns[i]))))
            )
    return out


def _full_utilization_pj_per_flop(hw: DigitalHardware) -> float:
    m = FULL_UTILIZATION_GEMM
    op = digital_compute(
        0,
        "forward",
        n_ports=m,
        n_samples=m,
        flops=2 * m**3,
        bytes_moved=BYTES_PER_REAL * 3 * m * m,  # A, B, C in float64 words; rescaled
    )
    return simulate([op], hw).energy_pj / op.flops


def _recorded_training(n_steps: int, rngs: dict[str, Any]) -> list[Op]:
    """Ops recorded by ``PhotonicNetwork.pai2023`` trained ``n_steps`` steps in situ.

    Real ops from the project's networks: the forward pass, the in-situ gradient
    measurement of ``photonic/insitu.py`` (``gradient="in_situ"``) and the
    phase updates of ``set_params``; Adam, moons, batch :data:`RECORDED_BATCH`. The
    network does not record the host's loss and Adam update, so they are added here
    where the step does them (as :func:`insitu_step_ops` and ``compare.step_ops`` do):
    without them a recorded step was ≈ 10 % cheaper than the same synthetic step on the
    integrated presets.
    """
    from digital.datasets import load
    from digital.losses import softmax_cross_entropy
    from digital.optim import Adam
    from photonic.network import PhotonicNetwork
    from sim.ops import Recorder

    data = load("moons", n_samples=100, rng=rngs["data"])
    net = PhotonicNetwork.pai2023(rng=rngs["init"], gradient="in_situ")
    net.recorder = Recorder()
    optimizer = Adam(lr=0.02)
    n_train = data.x_train.shape[0]
    targets = np.eye(2)[data.y_train]
    for step in range(n_steps):
        idx = np.arange(step * RECORDED_BATCH, (step + 1) * RECORDED_BATCH) % n_train
        y = net.forward(data.x_train[idx])
        net.recorder.record(loss_op(net.n_layers - 1, n_samples=y.shape[0], n_outputs=y.shape[1]))
        _, grad = softmax_cross_entropy(y, targets[idx])
        grads = net.backward(grad)
        params = net.params()
        net.recorder.record(  # as digital.train.train records it
            update_op(net.n_layers - 1, n_params=n_real_params(params), n_ports=1, rule="adam")
        )
        net.set_params(optimizer.step(params, grads))
    return list(net.recorder.ops)


def _recorded(
    cfg: Config, hardware: dict[str, Hardware], rngs: dict[str, Any], tap: TapIntegration
) -> tuple[list[dict[str, Any]], dict[str, float | str]]:
    """Replay speed on real recorded traces, and recorded vs synthetic in-situ steps."""
    rows: list[dict[str, Any]] = []
    summary: dict[str, float | str] = {}
    photonic = [p for p, hw in hardware.items() if isinstance(hw, PhotonicHardware)]
    if not photonic or not (cfg.replay_steps or cfg.replay_ops):
        return rows, summary
    target = PAI_PRESET if PAI_PRESET in photonic else photonic[0]
    n_steps = cfg.replay_steps or COMPARISON_STEPS
    start = time.perf_counter()
    recorded = _recorded_training(n_steps, rngs)
    summary["recorded_trace_record_wall_s"] = _sig(time.perf_counter() - start)
    per_step = len(recorded) // n_steps
    traces: list[tuple[str, str, list[Op]]] = []
    if cfg.replay_steps:
        traces.append((f"recorded_insitu_{n_steps}_steps", target, recorded))
    if cfg.replay_ops:
        tiled = (recorded * (cfg.replay_ops // len(recorded) + 1))[: cfg.replay_ops]
        long_target = "thermal-integrated" if "thermal-integrated" in photonic else target
        traces.append((f"{cfg.replay_ops}_ops", long_target, tiled))
    for label, preset, ops in traces:
        start = time.perf_counter()
        timeline = simulate(ops, hardware[preset])
        wall = time.perf_counter() - start
        rate = timeline.n_events / wall
        for metric, value, unit in (
            ("wall_time", wall, "s"),
            ("n_ops", len(ops), "ops"),
            ("n_events", timeline.n_events, "events"),
            ("events_per_s", rate, "1/s"),
        ):
            rows.append(
                {
                    "study": "replay_speed",
                    "preset": preset,
                    "name": label,
                    "metric": metric,
                    "value": value,
                    "unit": unit,
                }
            )
        summary[f"replay_{label}_on_{preset}_wall_s"] = _sig(wall)
        summary[f"replay_{label}_n_ops"] = len(ops)
        summary[f"replay_{label}_events_per_s"] = round(rate)
        if label.startswith("recorded") and preset == PAI_PRESET:
            share = time_share(timeline, SLOW_COMPONENTS)
            summary[f"pai_step_time_s_recorded_insitu_B{RECORDED_BATCH}"] = _sig(
                timeline.latency_ns / n_steps / 1e9
            )
            summary[f"pai_camera_settling_share_recorded_insitu_B{RECORDED_BATCH}"] = _sig(share, 6)
            summary[f"pai_other_time_share_recorded_insitu_B{RECORDED_BATCH}"] = _sig(1 - share)
    # recorded (photonic/insitu.py) vs synthetic (insitu_step_ops) step, Pai shape
    steps = min(COMPARISON_STEPS, n_steps)
    sample = recorded[: steps * per_step]
    n, n_layers = PAI_SHAPE
    synthetic = insitu_step_ops(n, n_layers, RECORDED_BATCH, tap_integration=tap)
    for preset in photonic:
        for label, ops, count in (("recorded", sample, steps), ("synthetic", synthetic, 1)):
            timeline = simulate(ops, hardware[preset])
            passes = sum(op.kind == "mesh_pass" for op in ops) / (count * n_layers)
            for metric, value, unit in (
                ("latency_per_step", timeline.latency_ns / count, "ns"),
                ("energy_per_step", timeline.energy_pj / count, "pJ"),
                ("mesh_passes_per_layer", passes, "passes"),
            ):
                rows.append(
                    {
                        "study": "recorded_vs_synthetic",
                        "preset": preset,
                        "name": label,
                        "n_ports": n,
                        "batch": RECORDED_BATCH,
                        "metric": metric,
                        "value": value,
                        "unit": unit,
                    }
                )
    return rows, summary


def run(cfg: Config, out_dir: Path) -> Result:
    """Replay every workload on every preset; write the tables and figures."""
    out_dir = Path(out_dir)
    rngs = child_rngs(cfg.seed, "data", "init")
    tap: TapIntegration = "batch" if cfg.tap_integration == "batch" else "per_sample"
    hardware = {hw.name: hw for hw in (load_preset(p) for p in cfg.presets)}
    rows: list[dict[str, Any]] = []
    summary: dict[str, float | str] = {}
    L = cfg.n_layers

    # 1. sweep: energy per MAC, TOPS/W, latency of inference and training step
    grid: dict[tuple[str, str, int, int], dict[str, float]] = {}
    reports = {}
    for n in cfg.ports:
        for b in cfg.batches:
            # one trace per kind of hardware: the digital ops record a real MLP pass of
            # this size, and every digital (photonic) preset replays the same ones
            traces: dict[tuple[bool, str], list[Op]] = {}
            for preset, hw in hardware.items():
                for workload in ("inference", "train_step"):
                    kind = (isinstance(hw, DigitalHardware), workload)
                    if kind not in traces:
                        traces[kind] = _workload_ops(hw, workload, n, L, b, tap)
                    ops = traces[kind]
                    timeline = simulate(ops, hw)
                    macs = _macs(workload, n, L, b)
                    values = {
                        "latency_ns": timeline.latency_ns,
                        "energy_pj": timeline.energy_pj,
                        "energy_per_mac_pj": timeline.energy_pj / macs,
                        "tops_per_w": tops_per_w(2 * macs, timeline.energy_pj),
                        "n_ops": float(len(ops)),
                        "mean_power_mw": timeline.energy_pj / timeline.latency_ns,
                    }
                    if isinstance(hw, PhotonicHardware):
                        values["laser_optical_mw"] = (
                            laser_electrical_power_mw(n, hw) * hw.laser.wall_plug_efficiency
                        )
                        values["slow_share"] = time_share(timeline, SLOW_COMPONENTS)
                    grid[(preset, workload, n, b)] = values
                    for metric, value in values.items():
                        rows.append(
                            {
                                "study": "sweep",
                                "preset": preset,
                                "workload": workload,
                                "n_ports": n,
                                "batch": b,
                                "metric": metric,
                                "value": value,
                            }
                        )
                    if (n, b) == cfg.reference_size and workload == "train_step":
                        reports[preset] = summarize(ops, timeline)
                        for row in reports[preset].rows(
                            study="breakdown", preset=preset, workload=workload, n_ports=n, batch=b
                        ):
                            rows.append(row)

    # headline first (a sweep plots the first number by default): energy per MAC of a
    # training step at the reference size, per preset
    n_ref, b_ref = cfg.reference_size
    for preset in hardware:
        summary[f"{preset}_train_step_pj_per_mac"] = _sig(
            grid[(preset, "train_step", n_ref, b_ref)]["energy_per_mac_pj"]
        )
    summary["reference_ports"] = n_ref  # the N and B of the headline (set or defaulted)
    summary["reference_batch"] = b_ref
    over = _over_laser_limit(cfg, grid)
    summary["over_laser_limit"] = _describe_over_limit(cfg, over)
    summary["over_power_limit"] = _describe_over_power(grid)

    # 2. acceptance: H100 at full utilization
    for preset, hw in hardware.items():
        if isinstance(hw, DigitalHardware) and preset == GPU_PRESET:
            pj = _full_utilization_pj_per_flop(hw)
            summary["h100_bf16_pj_per_flop_full_utilization"] = _sig(pj)
            summary["h100_bf16_rel_error_vs_0.71"] = _sig(pj / H100_SPEC_PJ_PER_FLOP - 1)
            fp32 = DigitalHardware(hw.name, dataclasses.replace(hw.processor, precision="fp32"))
            summary["h100_fp32_pj_per_flop_full_utilization"] = _sig(
                _full_utilization_pj_per_flop(fp32)
            )
            rows.append(
                {
                    "study": "acceptance",
                    "preset": preset,
                    "metric": "pj_per_flop_full_utilization_bf16",
                    "value": pj,
                    "unit": "pJ/FLOP",
                }
            )

    # 3. pai2023-chip: share of camera + settling
    if PAI_PRESET in hardware:
        n, n_layers = PAI_SHAPE
        pai_ops = insitu_step_ops(n, n_layers, 1, tap_integration=tap)
        tl = simulate(pai_ops, hardware[PAI_PRESET])
        share = time_share(tl, SLOW_COMPONENTS)
        summary["pai_step_time_s_pai_shape_b1"] = _sig(tl.latency_ns / 1e9)
        summary["pai_camera_settling_share_pai_shape_b1"] = _sig(share, 6)
        summary["pai_other_time_share_pai_shape_b1"] = _sig(1 - share)
        for comp in SLOW_COMPONENTS:
            summary[f"pai_share_{comp}"] = _sig(
                tl.time_by_component_ns.get(comp, 0.0) / tl.latency_ns
            )
        shares = [
            v["slow_share"]
            for (p, w, _, _), v in grid.items()
            if p == PAI_PRESET and w == "train_step"
        ]
        summary["pai_camera_settling_share_min_over_grid"] = _sig(min(shares), 6)
        rows.append(
            {
                "study": "acceptance",
                "preset": PAI_PRESET,
                "n_ports": n,
                "batch": 1,
                "metric": "camera_settling_share",
                "value": share,
            }
        )

    # 4. eo-integrated vs GPU: energy per MAC crossover
    crossover_rows, crossover_summary, crossover_data = _crossover(cfg, hardware, grid)
    rows += crossover_rows
    summary.update(crossover_summary)

    # 5. heatmaps of MVM and gradient TOPS/W
    heat: dict[str, dict[str, np.ndarray]] = {}
    for preset in (load_preset(p).name for p in cfg.heatmaps):
        heat[preset] = _heatmap(cfg, hardware[preset], tap)
        for key, table in heat[preset].items():
            for i, n in enumerate(cfg.ports):
                for j, b in enumerate(cfg.batches):
                    rows.append(
                        {
                            "study": "heatmap",
                            "preset": preset,
                            "n_ports": n,
                            "batch": b,
                            "metric": key,
                            "value": float(table[i, j]),
                        }
                    )
            summary[f"{preset}_max_{key}"] = _sig(float(np.max(table)))
            summary[f"{preset}_{key}_N{cfg.ports[-1]}_B{cfg.batches[-1]}"] = _sig(
                float(table[-1, -1])
            )

    # 6. passes and time per step: in-situ vs finite differences vs digital
    scaling_rows, scaling_summary, scaling = _passes_and_time(cfg, hardware, grid, tap)
    rows += scaling_rows
    summary.update(scaling_summary)

    # 7. replay speed
    speed_rows, speed_summary = _recorded(cfg, hardware, rngs, tap)
    rows += speed_rows
    write_metrics(rows, out_dir)  # before the plots: a full disk keeps the numbers
    summary.update(speed_summary)

    figures = [
        *_plot_scaling(cfg, grid, out_dir, over),
        *_plot_breakdown(cfg, reports, out_dir, over),
        *_plot_heatmaps(cfg, heat, out_dir, over),
        *_plot_passes(cfg, scaling, out_dir, over),
        *_plot_crossover(cfg, crossover_data, out_dir, over),
    ]
    return Result(out_dir=out_dir, metrics=rows, summary=summary, figures=figures)


HOST_COMPONENTS = ("host_static", "host_compute", "host_memory")


def _energy_by_phase(ops: Sequence[Op], timeline: Timeline, *, chip_only: bool) -> dict[str, float]:
    from sim.report import phase_of

    out: dict[str, float] = {}
    for entry in timeline.entries:
        if chip_only and entry.component in HOST_COMPONENTS:
            continue
        op = ops[entry.op_index]
        key = "mvm" if (op.kind == "mesh_pass" and op.direction == "forward") else phase_of(op)
        out[key] = out.get(key, 0.0) + entry.energy_pj
    return out


def _heatmap(cfg: Config, hw: Hardware, tap: TapIntegration) -> dict[str, np.ndarray]:
    """MVM and gradient TOPS/W of one layer over N × B, chip-only and whole system."""
    shape = (len(cfg.ports), len(cfg.batches))
    out = {
        k: np.zeros(shape)
        for k in (
            "mvm_tops_per_w_chip",
            "gradient_tops_per_w_chip",
            "mvm_tops_per_w_system",
            "gradient_tops_per_w_system",
        )
    }
    for i, n in enumerate(cfg.ports):
        for j, b in enumerate(cfg.batches):
            ops = insitu_step_ops(n, 1, b, tap_integration=tap)
            timeline = simulate(ops, hw)
            for scope in ("chip", "system"):
                energy = _energy_by_phase(ops, timeline, chip_only=scope == "chip")
                gradient = energy.get("adjoint", 0.0) + energy.get("gradient", 0.0)
                out[f"mvm_tops_per_w_{scope}"][i, j] = tops_per_w(2 * b * n * n, energy["mvm"])
                out[f"gradient_tops_per_w_{scope}"][i, j] = tops_per_w(4 * b * n * n, gradient)
    return out


def _crossover(
    cfg: Config,
    hardware: dict[str, Hardware],
    grid: dict[tuple[str, str, int, int], dict[str, float]],
) -> tuple[list[dict[str, Any]], dict[str, float | str], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    summary: dict[str, float | str] = {}
    pair = cfg.crossover
    if pair is None:
        summary["crossover_presets"] = (
            "none: crossover_presets is empty"
            if cfg.crossover_presets is not None
            else f"none: the default needs {EO_PRESET} and {GPU_PRESET} in presets; "
            "name two presets in crossover_presets to draw it"
        )
        return rows, summary, {}
    photonic_name, digital_name = _names(pair)
    summary["crossover_presets"] = f"{photonic_name} vs {digital_name}"
    chip, gpu = hardware[photonic_name], hardware[digital_name]
    assert isinstance(gpu, DigitalHardware)
    b = cfg.reference_size[1]
    ns = list(cfg.ports)
    pj_per_flop = _full_utilization_pj_per_flop(gpu)
    curves: dict[str, list[float]] = {
        "photonic_inference_system": [
            grid[(photonic_name, "inference", n, b)]["energy_per_mac_pj"] for n in ns
        ],
        "photonic_mvm_chip": [],
        "digital_same_workload": [
            grid[(digital_name, "inference", n, b)]["energy_per_mac_pj"] for n in ns
        ],
        "digital_full_utilization_complex_mac": [8 * pj_per_flop] * len(ns),
        "digital_full_utilization_real_mac": [2 * pj_per_flop] * len(ns),
    }
    for n in ns:
        ops = inference_ops(n, 1, b)
        energy = _energy_by_phase(ops, simulate(ops, chip), chip_only=True)
        curves["photonic_mvm_chip"].append(energy["mvm"] / (b * n * n))
    for name, values in curves.items():
        for n, v in zip(ns, values, strict=True):
            rows.append(
                {
                    "study": "crossover",
                    "preset": photonic_name if name.startswith("photonic") else digital_name,
                    "name": name,
                    "n_ports": n,
                    "batch": b,
                    "metric": "energy_per_mac",
                    "value": v,
                    "unit": "pJ",
                }
            )
    for photonic in ("photonic_inference_system", "photonic_mvm_chip"):
        for reference in (  # the GPU at full utilization first: the fair comparison
            "digital_full_utilization_complex_mac",
            "digital_full_utilization_real_mac",
            "digital_same_workload",
        ):
            key = f"crossover_{photonic}_vs_{reference}_B{b}"
            summary[key] = _describe_crossing(
                ns, curves[photonic], curves[reference], digital=digital_name
            )
    data = {"ns": ns, "batch": b, "curves": curves, "presets": (photonic_name, digital_name)}
    return rows, summary, data


def _describe_crossing(
    ns: Sequence[int],
    photonic: Sequence[float],
    gpu: Sequence[float],
    *,
    digital: str = GPU_PRESET,
) -> str:
    """Where the photonic energy per MAC is below the digital preset's, in words."""
    below = [p < g for p, g in zip(photonic, gpu, strict=True)]
    crossings = _crossings(ns, photonic, gpu)
    if all(below):
        return f"photonic uses less energy per MAC at every N in {ns[0]}…{ns[-1]}"
    if not any(below):
        return f"photonic uses more energy per MAC at every N in {ns[0]}…{ns[-1]}"
    parts = []
    for n_cross in crossings:
        i = next(k for k in range(len(ns) - 1) if ns[k] <= n_cross <= ns[k + 1])
        side = "drops below" if below[i + 1] else "rises above"
        parts.append(f"photonic energy per MAC {side} {digital}'s at N≈{n_cross:.3g}")
    return "; ".join(parts)


def _passes_and_time(
    cfg: Config,
    hardware: dict[str, Hardware],
    grid: dict[tuple[str, str, int, int], dict[str, float]],
    tap: TapIntegration,
) -> tuple[list[dict[str, Any]], dict[str, float | str], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    summary: dict[str, float | str] = {}
    L, b, ns = cfg.n_layers, cfg.reference_size[1], list(cfg.ports)
    passes: dict[str, list[float]] = {"in_situ": [], "finite_difference": []}
    counted: list[bool] = []
    for n in ns:
        insitu = insitu_step_ops(n, L, b, tap_integration=tap)
        passes["in_situ"].append(sum(op.kind == "mesh_pass" for op in insitu) / L)
        if n <= cfg.fd_count_max_ports:
            count = sum(op.kind == "mesh_pass" for op in finite_difference_step_ops(n, L, b))
            counted.append(True)
        else:
            count = fd_passes_per_step(n, L)
            counted.append(False)
        passes["finite_difference"].append(count / L)
    for method, values in passes.items():
        slope = _slope(ns, values)
        summary[f"slope_passes_per_step_{method}"] = round(slope, 3) + 0.0
        for n, v, c in zip(ns, values, counted, strict=True):
            rows.append(
                {
                    "study": "passes_per_step",
                    "method": method,
                    "n_ports": n,
                    "batch": b,
                    "metric": "mesh_passes_per_layer",
                    "value": v,
                    "counted_from_trace": c,
                }
            )
    times: dict[tuple[str, str], list[float]] = {}
    for preset, hw in hardware.items():
        if isinstance(hw, PhotonicHardware):
            times[("in_situ", preset)] = [
                grid[(preset, "train_step", n, b)]["latency_ns"] for n in ns
            ]
            fd = [fd_step_cost(hw, n, L, b) for n in ns]
            times[("finite_difference", preset)] = [c["latency_ns"] for c in fd]
            for n, cost in zip(ns, fd, strict=True):
                rows.append(
                    {
                        "study": "passes_per_step",
                        "method": "finite_difference",
                        "preset": preset,
                        "n_ports": n,
                        "batch": b,
                        "metric": "energy_per_step",
                        "value": cost["energy_pj"],
                        "unit": "pJ",
                    }
                )
        else:
            times[("digital", preset)] = [
                grid[(preset, "train_step", n, b)]["latency_ns"] for n in ns
            ]
    for (method, preset), values in times.items():
        summary[f"slope_time_per_step_{method}_{preset}"] = round(_slope(ns, values), 3) + 0.0
        tail = max(3, len(ns) // 2)
        summary[f"slope_time_per_step_{method}_{preset}_largest_N"] = (
            round(_slope(ns[-tail:], values[-tail:]), 3) + 0.0
        )
        for n, v in zip(ns, values, strict=True):
            rows.append(
                {
                    "study": "passes_per_step",
                    "method": method,
                    "preset": preset,
                    "n_ports": n,
                    "batch": b,
                    "metric": "time_per_step",
                    "value": v,
                    "unit": "ns",
                }
            )
    return rows, summary, {"ns": ns, "batch": b, "passes": passes, "times": times}


# --------------------------------------------------------------------------- plots

#: Line colours of the presets (matplotlib's tab10, in its order).
_PRESET_COLORS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:gray",
    "tab:olive",
    "tab:cyan",
)


def _over_laser_limit(
    cfg: Config, grid: dict[tuple[str, str, int, int], dict[str, float]]
) -> dict[str, list[int]]:
    """The N of every photonic preset whose laser needs more than
    ``cfg.max_laser_optical_mw`` of light (it depends on N only, not on B)."""
    limit = cfg.max_laser_optical_mw
    over: dict[str, list[int]] = {}
    for (preset, workload, n, b), values in grid.items():
        if workload != "inference" or b != cfg.batches[0] or "laser_optical_mw" not in values:
            continue
        over.setdefault(preset, [])
        if limit is not None and values["laser_optical_mw"] > limit:
            over[preset].append(n)
    return {preset: sorted(ns) for preset, ns in over.items()}


def _limit_text(cfg: Config) -> str:
    """``> 1 W of laser light`` for the figures' notes."""
    limit = cfg.max_laser_optical_mw
    return f"> {format_si(limit or 0.0, 'W', exponent=-3)} of laser light"


def _describe_over_limit(cfg: Config, over: dict[str, list[int]]) -> str:
    """The summary's ``over_laser_limit``: which photonic points need implausible light."""
    if cfg.max_laser_optical_mw is None:
        return "no limit set (max_laser_optical_mw = None)"
    parts = [f"{preset} at N={', '.join(map(str, ns))}" for preset, ns in over.items() if ns]
    if not parts:
        return f"no photonic point needs {_limit_text(cfg)}"
    return f"needing {_limit_text(cfg)} (max_laser_optical_mw): {'; '.join(parts)}"


def _describe_over_power(grid: Mapping[tuple[str, str, int, int], Mapping[str, float]]) -> str:
    """The summary's ``over_power_limit``: which points draw more on average than
    :data:`sim.report.PLAUSIBLE_POWER_MW` (a chip no package could cool, e.g. a
    thermal mesh holding 131k heaters at N = 256)."""
    over: dict[str, set[int]] = {}
    for (preset, _, n, _), values in grid.items():
        if values["mean_power_mw"] > PLAUSIBLE_POWER_MW:
            over.setdefault(preset, set()).add(n)
    limit = format_si(PLAUSIBLE_POWER_MW, "W", exponent=-3)
    if not over:
        return f"no point draws more than {limit} on average"
    parts = [f"{preset} at N={', '.join(map(str, sorted(ns)))}" for preset, ns in over.items()]
    return (
        f"drawing more than {limit} on average (an H100 board's TDP; check before "
        f"quoting): {'; '.join(parts)}"
    )


def _plot_marked(
    ax: Any,
    xs: Sequence[float],
    ys: Sequence[float],
    style: str,
    hollow: Sequence[bool],
    **kwargs: Any,
) -> None:
    """``ax.plot`` of one curve whose points flagged in ``hollow`` (they need more laser
    light than ``max_laser_optical_mw``) get hollow markers; the line stays whole."""
    filled = [i for i, h in enumerate(hollow) if not h]
    (line,) = ax.plot(xs, ys, style, markevery=filled, **kwargs)
    if any(hollow):
        ax.plot(
            [x for x, h in zip(xs, hollow, strict=True) if h],
            [y for y, h in zip(ys, hollow, strict=True) if h],
            linestyle="none",
            marker=line.get_marker(),
            ms=max(line.get_markersize(), 5.0),  # large enough to see that it is hollow
            color=line.get_color(),
            markerfacecolor="white",
            zorder=line.get_zorder() + 0.1,
        )


def _hollow_handle(cfg: Config) -> Any:
    """The legend entry that explains hollow markers."""
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        linestyle="none",
        marker="o",
        color="0.3",
        markerfacecolor="white",
        label=f"hollow: needs {_limit_text(cfg)} (implausible)",
    )


def _names(presets: Sequence[str]) -> list[str]:
    """Hardware names of presets given by name or path."""
    return [load_preset(p).name for p in presets]


def _colors(presets: Sequence[str]) -> dict[str, str]:
    """One colour per preset name, the same in every figure and whatever the order of
    ``presets``: the bundled presets in a fixed order (:data:`DEFAULT_PRESETS`, then any
    other bundled one by name) take the first colours, so a preset looks the same in
    every run; other presets (files) take the remaining colours in the order given."""
    bundled = [*DEFAULT_PRESETS, *(p for p in available_presets() if p not in DEFAULT_PRESETS)]
    fixed = {p: _PRESET_COLORS[i % len(_PRESET_COLORS)] for i, p in enumerate(bundled)}
    rest = _PRESET_COLORS[len(bundled) :] or _PRESET_COLORS
    others = [p for p in presets if p not in fixed]
    return {p: fixed[p] if p in fixed else rest[others.index(p) % len(rest)] for p in presets}


def _plot_scaling(
    cfg: Config,
    grid: dict[tuple[str, str, int, int], dict[str, float]],
    out_dir: Path,
    over: dict[str, list[int]] | None = None,
) -> list[Path]:
    over = over or {}
    fig = new_figure(figsize=(11.0, 10.0), layout="constrained")
    axes = fig.subplots(3, 2)
    colors = _colors(_names(cfg.presets))
    metrics = (
        ("energy_per_mac_pj", "energy per complex MAC (pJ)"),
        ("tops_per_w", "TOPS/W (2 ops per MAC)"),
        ("latency_ns", "latency (ns)"),
    )
    styles = {"inference": "-", "train_step": "--"}
    for row, (metric, label) in enumerate(metrics):
        for col, (axis, fixed) in enumerate(
            (("n_ports", cfg.reference_size[1]), ("batch", cfg.reference_size[0]))
        ):
            ax = axes[row, col]
            xs = cfg.ports if axis == "n_ports" else cfg.batches
            for preset in _names(cfg.presets):
                # the laser's light depends on N: vs N, the points over the limit; vs B,
                # all of them or none (N is fixed)
                bad = set(over.get(preset, ()))
                hollow = [(x if axis == "n_ports" else fixed) in bad for x in xs]
                for workload, style in styles.items():
                    ys = [
                        grid[
                            (preset, workload, x, fixed)
                            if axis == "n_ports"
                            else (preset, workload, fixed, x)
                        ][metric]
                        for x in xs
                    ]
                    _plot_marked(
                        ax,
                        xs,
                        ys,
                        style,
                        hollow,
                        marker="o",
                        ms=3,
                        color=colors[preset],
                        label=f"{preset}, {workload.replace('_', ' ')}",
                    )
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_ylabel(label)
            ax.set_xlabel("mesh ports N" if axis == "n_ports" else "batch B")
            ax.set_title(f"vs N at B={fixed}" if axis == "n_ports" else f"vs B at N={fixed}")
            ax.grid(True, which="both", alpha=0.3)
    handles, _ = axes[0, 0].get_legend_handles_labels()
    if any(over.values()):
        handles.append(_hollow_handle(cfg))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(
        f"{cfg.n_layers}-layer network: inference (solid) and training step (dashed; photonic: "
        f"in-situ, digital: backprop)",
        wrap=True,
    )
    return save_figure(fig, out_dir, "scaling")


def _plot_breakdown(
    cfg: Config, reports: dict[str, Any], out_dir: Path, over: dict[str, list[int]] | None = None
) -> list[Path]:
    fig = new_figure(figsize=(12.0, 5.0), layout="constrained")
    axes = fig.subplots(1, 2)
    presets = [p for p in _names(cfg.presets) if p in reports]
    panels = (
        (axes[0], "energy_by_component_pj", "energy per training step", format_energy_pj),
        (axes[1], "time_by_component_ns", "time per training step (critical path)", format_time_ns),
    )
    n_ref = cfg.reference_size[0]
    marked = [p for p in presets if n_ref in (over or {}).get(p, ())]
    if marked:
        fig.supxlabel(f"* needs {_limit_text(cfg)} at N={n_ref} (implausible)", fontsize=9)
    totals: dict[str, dict[str, float]] = {}
    shares: dict[str, dict[str, dict[str, float]]] = {}
    for _, attr, _, _ in panels:
        totals[attr] = {p: sum(getattr(reports[p], attr).values()) for p in presets}
        shares[attr] = {}
        for p in presets:
            for comp, value in getattr(reports[p], attr).items():
                total = totals[attr][p]
                frac = value / total if total > 0 else 0.0
                name = comp if frac >= 0.01 else "other (<1 % each)"
                shares[attr].setdefault(name, {}).setdefault(p, 0.0)
                shares[attr][name][p] += frac
    # one colour per component in both panels (host_static is the same colour in each)
    cmap = _component_colors(sorted({name for panel in shares.values() for name in panel}))
    for ax, attr, title, fmt in panels:
        bottom = np.zeros(len(presets))
        by_size = sorted(shares[attr], key=lambda c: -sum(shares[attr][c].values()))
        for comp in by_size:
            heights = np.array([100 * shares[attr][comp].get(p, 0.0) for p in presets])
            ax.bar(presets, heights, bottom=bottom, label=comp, color=cmap[comp])
            bottom += heights
        for i, p in enumerate(presets):
            ax.text(i, 101, fmt(totals[attr][p]), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(presets)), [f"{p} *" if p in marked else p for p in presets])
        ax.set_ylim(0, 112)
        ax.set_ylabel("share (%)")
        ax.set_title(f"{title}, N={cfg.reference_size[0]}, B={cfg.reference_size[1]}")
        ax.tick_params(axis="x", labelrotation=20)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return save_figure(fig, out_dir, "breakdown")


def _component_colors(names: Sequence[str]) -> dict[str, Any]:
    """A distinct colour per name: tab20, then tab20b (40 names before any repeats)."""
    from matplotlib import colormaps

    palette = [colormaps["tab20"](i) for i in range(20)]
    palette += [colormaps["tab20b"](i) for i in range(20)]
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def _plot_heatmaps(
    cfg: Config,
    heat: dict[str, dict[str, np.ndarray]],
    out_dir: Path,
    over: dict[str, list[int]] | None = None,
) -> list[Path]:
    if not heat:
        return []
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    keys = (
        "mvm_tops_per_w_chip",
        "gradient_tops_per_w_chip",
        "mvm_tops_per_w_system",
        "gradient_tops_per_w_system",
    )
    fig = new_figure(figsize=(4.2 * len(keys), 3.8 * len(heat)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(heat), len(keys)))
    for r, (preset, tables) in enumerate(heat.items()):
        for c, key in enumerate(keys):
            ax = axes[r, c]
            table = tables[key]
            # the colour scale spans the table's own positive values: a fixed floor
            # (it was 1e-6) clipped thermal-integrated's cells and, above a table's
            # maximum (pai2023-chip, ≈ 1e-10 TOPS/W), made matplotlib refuse to draw
            positive = table[table > 0]
            low, high = (positive.min(), positive.max()) if positive.size else (1.0, 1.0)
            image = ax.imshow(
                table,
                origin="lower",
                aspect="auto",
                cmap="viridis",
                norm=LogNorm(vmin=low, vmax=high),
            )
            for i in range(table.shape[0]):
                for j in range(table.shape[1]):
                    # dark text on the bright (upper) part of viridis, white below
                    bright = image.norm(table[i, j]) > 0.6
                    ax.text(
                        j,
                        i,
                        f"{table[i, j]:.3g}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="k" if bright else "w",
                    )
            for i, n in enumerate(cfg.ports):  # rows whose laser needs implausible light
                if n in (over or {}).get(preset, ()):
                    ax.add_patch(
                        Rectangle(
                            (-0.5, i - 0.5),
                            len(cfg.batches),
                            1,
                            fill=False,
                            hatch="//",
                            edgecolor="0.6",
                            linewidth=0,
                        )
                    )
            ax.set_xticks(range(len(cfg.batches)), [str(b) for b in cfg.batches])
            ax.set_yticks(range(len(cfg.ports)), [str(n) for n in cfg.ports])
            ax.set_xlabel("batch B")
            ax.set_ylabel("mesh ports N")
            kind, scope = ("MVM" if key.startswith("mvm") else "gradient"), key.rsplit("_", 1)[-1]
            ax.set_title(f"{preset}: {kind} TOPS/W ({scope})", fontsize=9)
            fig.colorbar(image, ax=ax, label="TOPS/W")
    hatched = any((over or {}).get(preset) for preset in heat)
    fig.suptitle(
        "In-situ MVM and gradient efficiency of one layer "
        "(Pai et al. 2023 project ≈150 and ≈50 TOPS/W)"
        + (f"; hatched: needs {_limit_text(cfg)} (implausible)" if hatched else ""),
        wrap=True,
    )
    return save_figure(fig, out_dir, "heatmaps")


def _exponent(ns: Sequence[float], values: Sequence[float]) -> str:
    """The log-log slope k of ``values`` ∝ N^k as mathtext, 2 decimals, never ``-0.00``."""
    k = round(_slope(ns, values), 2) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"$N^{{{k:.2f}}}$"


def _power_law(quantity: str, ns: Sequence[int], values: Sequence[float]) -> str:
    """Legend text of a log-log fit: ``passes ∝ N^2.00``; for more than 3 sizes also the
    slope over the largest ones (the tail the summary's ``…_largest_N`` keys fit), where a
    curve that is flat at small N and grows at large N shows its real growth."""
    if len(ns) < 2:
        return f"{quantity} (one N: no slope)"
    text = f"{quantity} ∝ {_exponent(ns, values)}"
    tail = max(3, len(ns) // 2)
    if len(ns) > tail:
        text += f" ({_exponent(ns[-tail:], values[-tail:])} for N ≥ {ns[-tail]})"
    return text


def _plot_passes(
    cfg: Config, scaling: dict[str, Any], out_dir: Path, over: dict[str, list[int]] | None = None
) -> list[Path]:
    fig = new_figure(figsize=(12.0, 4.8), layout="constrained")
    ax_pass, ax_time = fig.subplots(1, 2)
    ns = scaling["ns"]
    fit = f"log-log fits over N = {ns[0]}…{ns[-1]}"
    for method, style in (("in_situ", "-o"), ("finite_difference", "--s")):
        values = scaling["passes"][method]
        ax_pass.plot(
            ns,
            values,
            style,
            color="k",  # methods, not presets: no preset's colour
            label=f"{method.replace('_', ' ')}: {_power_law('passes', ns, values)}",
        )
    ax_pass.set_xscale("log", base=2)
    ax_pass.set_yscale("log")
    ax_pass.set_xlabel("mesh ports N")
    ax_pass.set_ylabel("mesh passes per layer per training step")
    ax_pass.set_title(f"passes per step ({cfg.n_layers} layers)")
    ax_pass.grid(True, which="both", alpha=0.3)
    # lower right, above the in-situ line: the finite-difference line is high there
    ax_pass.legend(
        fontsize=8, title=fit, title_fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 0.1)
    )
    colors = _colors(_names(cfg.presets))
    styles = {"in_situ": "-", "finite_difference": "--", "digital": ":"}
    bad = over or {}
    for (method, preset), values in scaling["times"].items():
        _plot_marked(
            ax_time,
            ns,
            list(np.asarray(values) / 1e9),
            styles[method],
            [n in bad.get(preset, ()) for n in ns],
            marker="o",
            ms=3,
            color=colors[preset],
            label=f"{method.replace('_', ' ')}, {preset}: {_power_law('time', ns, values)}",
        )
    ax_time.set_xscale("log", base=2)
    ax_time.set_yscale("log")
    ax_time.set_xlabel("mesh ports N")
    ax_time.set_ylabel("time per training step (s)")
    ax_time.set_title(f"time per step, B={scaling['batch']}")
    ax_time.grid(True, which="both", alpha=0.3)
    handles, _ = ax_time.get_legend_handles_labels()
    if any(bad.get(preset) for _, preset in scaling["times"]):
        handles.append(_hollow_handle(cfg))
    ax_time.legend(
        handles=handles,
        fontsize=6,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        title=fit,
        title_fontsize=6,
    )
    return save_figure(fig, out_dir, "passes_per_step")


def _plot_crossover(
    cfg: Config, data: dict[str, Any], out_dir: Path, over: dict[str, list[int]] | None = None
) -> list[Path]:
    if not data:
        return []
    fig = new_figure(figsize=(7.0, 4.6), layout="constrained")
    ax = fig.subplots()
    chip, gpu = data["presets"]
    colors = _colors(_names(cfg.presets))  # as in the other figures
    styles = {
        "photonic_inference_system": ("-o", f"{chip}: inference, whole system"),
        "photonic_mvm_chip": ("--s", f"{chip}: one mesh pass, chip only"),
        "digital_same_workload": ("-o", f"{gpu}: same inference, simulated"),
        "digital_full_utilization_complex_mac": (
            ":",
            f"{gpu} at full utilization, per complex MAC",
        ),
        "digital_full_utilization_real_mac": ("-.", f"{gpu} at full utilization, per real MAC"),
    }
    bad = (over or {}).get(chip, [])
    for name, values in data["curves"].items():
        style, label = styles[name]
        photonic = name.startswith("photonic")
        color = colors[chip if photonic else gpu]
        hollow = [photonic and n in bad for n in data["ns"]]
        _plot_marked(ax, data["ns"], values, style, hollow, color=color, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("mesh ports N")
    ax.set_ylabel("energy per MAC (pJ)")
    ax.set_title(f"{chip} vs {gpu}: energy per MAC, B={data['batch']}")
    ax.grid(True, which="both", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if bad:
        handles.append(_hollow_handle(cfg))
    ax.legend(handles=handles, fontsize=7)
    return save_figure(fig, out_dir, "crossover")


def main(argv: list[str] | None = None) -> int:
    """Run this scenario from the command line (``photonic-backprop run energy_latency``)."""
    return scenario_main(NAME, argv)


if __name__ == "__main__":
    raise SystemExit(main())
