"""The Op constructors: each encodes the conversion count the engine reads (sim/ops.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine import simulate
from sim.ops import Op, mesh_pass, phase_update, tap_readout


@pytest.mark.parametrize(("exit_read", "per_port"), [("power", 2), ("field", 3), ("none", 1)])
def test_mesh_pass_counts_inputs_and_exit_reads(exit_read: str, per_port: int) -> None:
    op = mesh_pass(2, "adjoint", n_ports=6, n_samples=5, exit_read=exit_read)  # type: ignore[arg-type]
    assert (op.kind, op.layer, op.direction) == ("mesh_pass", 2, "adjoint")
    assert op.passes == op.n_samples == 5
    assert op.conversions == per_port * 5 * 6  # one DAC sample per input + the exit reads


@pytest.mark.parametrize(("exit_read", "per_port"), [("power", 3), ("field", 4), ("none", 2)])
def test_a_field_injection_counts_two_dac_samples_per_port(exit_read: str, per_port: int) -> None:
    """A complex field needs amplitude and phase at every port (I and Q): two samples per
    port before the exit reads; mesh_pass could count only one."""
    op = mesh_pass(1, "sum", n_ports=6, n_samples=5, exit_read=exit_read, inject="field")  # type: ignore[arg-type]
    assert (op.inject, op.passes) == ("field", 5)
    assert op.conversions == per_port * 5 * 6
    default = mesh_pass(1, "sum", n_ports=6, n_samples=5, exit_read=exit_read)  # type: ignore[arg-type]
    assert default.inject == "amplitude"
    assert op.conversions - default.conversions == 5 * 6


def test_inject_is_checked_and_belongs_to_mesh_passes() -> None:
    with pytest.raises(ValueError, match=r"inject='iq' must be one of \('amplitude', 'field'\)"):
        mesh_pass(0, "forward", n_ports=4, n_samples=1, exit_read="power", inject="iq")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inject='phase' is not one of"):
        Op("mesh_pass", 0, "forward", 4, 1, passes=1, inject="phase")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inject='field' applies to a mesh_pass only"):
        Op("detect", 0, "forward", 4, 1, inject="field")
    # an op made without inject (every older trace) injects amplitudes
    assert Op("mesh_pass", 0, "forward", 4, 2, passes=2, conversions=16).inject == "amplitude"


def test_a_pass_through_meshes_in_series_costs_their_delay_and_no_more_conversions() -> None:
    """An SVD layer's light crosses V, the attenuator column and U: twice the optical
    delay and one column's more, the same DAC samples and reads; meshes ≠ 1 is refused
    on any op but a mesh_pass."""
    one = mesh_pass(0, "forward", n_ports=4, n_samples=3, exit_read="power")
    two = mesh_pass(0, "forward", n_ports=4, n_samples=3, exit_read="power", meshes=2)
    assert (two.conversions, two.passes, two.meshes) == (one.conversions, 3, 2)
    t1 = simulate([one], "pai2023-chip", n_shifters=0)
    t2 = simulate([two], "pai2023-chip", n_shifters=0)
    columns = 5  # pai2023-chip: a 4-port Reck mesh, 2·4 − 3 columns
    assert t2.time_by_component_ns["optics"] == pytest.approx(
        (2 * columns + 1) / columns * t1.time_by_component_ns["optics"]
    )
    for component in ("input_dac", "detector_adc", "camera", "link"):
        assert t2.energy_by_component_pj.get(component) == t1.energy_by_component_pj.get(component)
    with pytest.raises(ValueError, match=r"meshes=0 must be an int ≥ 1"):
        mesh_pass(0, "forward", n_ports=4, n_samples=3, exit_read="power", meshes=0)
    with pytest.raises(ValueError, match=r"and 1 for any op but a mesh_pass \(this is a detect\)"):
        Op("detect", 0, "forward", 4, 3, meshes=2)


def test_tap_readout_per_sample_or_integrated_over_the_batch() -> None:
    each = tap_readout(0, "sum", n_ports=4, n_samples=10, n_phases=16, integrated="per_sample")
    once = tap_readout(0, "sum", n_ports=4, n_samples=10, n_phases=16, integrated="batch")
    assert each.conversions == 160 and once.conversions == 16


def test_phase_update_writes_each_shifter_once_and_the_engine_charges_more_for_more() -> None:
    one, many = (phase_update(1, n_ports=4, n_phases=k) for k in (1, 16))
    assert (one.n_phases, one.conversions, many.conversions) == (1, 1, 16)
    assert one.direction == "update"
    assert simulate([many], "pai2023-chip").energy_pj > simulate([one], "pai2023-chip").energy_pj


def test_a_mesh_pass_sends_every_sample_once() -> None:
    """``passes`` is what the engine charges; a hand-made op without it would replay
    in no time, so it must match ``n_samples``."""
    with pytest.raises(ValueError, match=r"n_samples=8 vectors .* passes=0 must equal it"):
        Op("mesh_pass", 0, "forward", 4, 8)
    assert Op("mesh_pass", 0, "forward", 4, 8, passes=8).passes == 8


def test_constructors_refuse_unknown_options() -> None:
    with pytest.raises(ValueError, match="exit_read='fields'"):
        mesh_pass(0, "forward", n_ports=4, n_samples=1, exit_read="fields")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="integrated='per-sample'"):
        tap_readout(0, "sum", n_ports=4, n_samples=2, n_phases=3, integrated="per-sample")  # type: ignore[arg-type]
    from sim.ops import activation_op

    with pytest.raises(ValueError, match=r"values='float32' must be one of \('real', 'complex'\)"):
        activation_op(0, "forward", n_ports=4, n_samples=2, values="float32")  # type: ignore[arg-type]


@pytest.mark.parametrize("integer", [np.int64, np.int32, np.uint16])
def test_numpy_integer_counts_are_accepted_as_plain_ints(integer: type) -> None:
    """Counts often come from shapes and sums (np.int64); they were refused as 'not a
    non-negative int'. They are stored as plain ints, so equal ops hash alike."""
    op = Op("digital_compute", integer(1), "forward", integer(4), integer(3), flops=integer(10))
    assert op == Op("digital_compute", 1, "forward", 4, 3, flops=10)
    assert all(type(getattr(op, f)) is int for f in ("layer", "n_ports", "n_samples", "flops"))
    assert mesh_pass(0, "forward", n_ports=integer(4), n_samples=integer(2), exit_read="power")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Op("digital_compute", True, "forward", 4, 3), "layer=True"),
        (lambda: Op("digital_compute", 0, "forward", 4, np.bool_(True)), "n_samples="),
        (lambda: Op("digital_compute", 0, "forward", 4.0, 3), r"n_ports=4\.0"),
        (
            lambda: tap_readout(
                0, "sum", n_ports=4, n_samples=2, n_phases=None, integrated="batch"
            ),
            "n_phases=None must be a non-negative int",
        ),
        (
            lambda: mesh_pass(0, "forward", n_ports="4", n_samples=2, exit_read="power"),
            "n_ports='4' must be a non-negative int",
        ),
    ],
)
def test_counts_that_are_not_integers_are_refused_by_name(make: object, match: str) -> None:
    """A bool passed as an int (layer=True was stored); tap_readout(n_phases=None) and
    mesh_pass(n_ports='4') failed in their arithmetic before the Op could name them."""
    with pytest.raises(ValueError, match=match):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("kind", ["mesh_pass", "tap_readout", "phase_update", "detect"])
def test_an_optical_op_without_ports_is_refused_where_it_is_made(kind: str) -> None:
    """mesh_pass(n_ports=0) was accepted, and refused only by simulate, far from where
    the op had been made. A host op may have no ports (an update of scalars)."""
    with pytest.raises(ValueError, match=rf"n_ports=0 must be ≥ 1 for a {kind} op"):
        Op(kind, 0, "forward", 0, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"n_ports=0 must be ≥ 1 for a mesh_pass op"):
        mesh_pass(0, "forward", n_ports=0, n_samples=2, exit_read="power")
    assert Op("digital_compute", 0, "update", 0, 1).n_ports == 0


def test_host_work_factories_count_what_their_docstrings_say() -> None:
    """Softmax cross-entropy: 10 FLOPs and 2 float64 words per output; Adam: 12 FLOPs
    and 7 words per real parameter (read param, grad, m, v; write param, m, v)."""
    from sim.ops import adam_op, digital_compute, loss_op

    loss = loss_op(2, n_samples=5, n_outputs=3)
    assert (loss.kind, loss.layer, loss.direction) == ("digital_compute", 2, "forward")
    assert (loss.flops, loss.bytes, loss.n_samples, loss.n_ports) == (150, 240, 5, 3)
    adam = adam_op(1, n_params=48, n_ports=4)
    assert (adam.direction, adam.flops, adam.bytes, adam.n_samples) == ("update", 576, 2688, 1)
    op = digital_compute(0, "backward", n_ports=4, n_samples=2, flops=7, bytes_moved=9)
    assert op == Op(
        kind="digital_compute",
        layer=0,
        direction="backward",
        n_ports=4,
        n_samples=2,
        flops=7,
        bytes=9,
    )


def test_update_rules_cost_what_each_optimizer_reads_and_writes() -> None:
    """SGD reads p, g and writes p (3 words, 2 FLOPs); momentum also reads and writes v
    (5 words, 4 FLOPs); Adam is adam_op. A complex parameter is two real numbers."""
    import numpy as np

    from sim.ops import adam_op, n_real_params, update_op

    for rule, flops, words in (("sgd", 2, 3), ("momentum", 4, 5), ("adam", 12, 7)):
        op = update_op(0, n_params=10, n_ports=4, rule=rule)  # type: ignore[arg-type]
        assert (op.direction, op.flops, op.bytes) == ("update", 10 * flops, 10 * words * 8)
    assert update_op(1, n_params=48, n_ports=4, rule="adam") == adam_op(1, n_params=48, n_ports=4)
    with pytest.raises(ValueError, match=r"rule='rmsprop' must be one of \('sgd', 'momentum'"):
        update_op(0, n_params=1, n_ports=1, rule="rmsprop")  # type: ignore[arg-type]
    params = {"W1": np.zeros((3, 4), complex), "W2": np.zeros(5), "s": np.zeros(())}
    assert n_real_params(params) == 2 * 12 + 5 + 1
    # a bare AttributeError before
    with pytest.raises(TypeError, match="params is a list; expected a dict of arrays"):
        n_real_params([np.zeros(3)])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"params\['W'\] is a list; expected an array"):
        n_real_params({"W": [1.0, 2.0]})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_params": -3}, r"n_params=-3 must be a non-negative int"),
        ({"n_params": 2.5}, r"n_params=2\.5 must be a non-negative int"),
        ({"n_params": True}, r"n_params=True must be a non-negative int"),
        ({"rule": ["adam"]}, r"rule=\['adam'\] must be one of"),
    ],
)
def test_update_op_names_the_bad_argument(kwargs: dict[str, object], match: str) -> None:
    """update_op(n_params=-3) was refused as "flops=-36", a product the caller never
    passed; n_params=True was charged as one parameter; an unhashable rule raised a bare
    "unhashable type"."""
    from sim.ops import update_op

    args: dict[str, object] = {"n_params": 4, "n_ports": 1, "rule": "adam", **kwargs}
    with pytest.raises(ValueError, match=match):
        update_op(0, **args)  # type: ignore[arg-type]


def test_a_mesh_pass_with_fewer_conversions_than_its_input_samples_is_refused() -> None:
    """A hand-made field pass with B·N conversions was priced as B·N input samples and
    no reads, though a field needs 2·B·N samples."""
    with pytest.raises(ValueError, match=r"inject='field' modulates 16 input samples"):
        Op("mesh_pass", 0, "adjoint", 4, 2, passes=2, conversions=8, inject="field")
    assert Op("mesh_pass", 0, "adjoint", 4, 2, passes=2, conversions=16, inject="field")
    assert Op("mesh_pass", 0, "forward", 4, 2, passes=2, conversions=0)  # delay only
