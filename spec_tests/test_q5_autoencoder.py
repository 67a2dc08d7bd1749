"""Q5: the 1024-32-32-32-1024 autoencoder, momentum, 100 epochs of training, PSNR.

Q5.1.1 and Q5.1.2 are checked on numbers the grader draws, against scipy and central differences,
with the grader's Q2 layer functions patched in (a Q2 bug is charged in Q2 only).
Q5.2's schedule (the starter's defaults and its learning-rate decay) is observed through the calls
of a short training on random rows. Q5.2, Q5.3.1 and Q5.3.2 share one training: the submission's
train_autoencoder with the handout's settings, on the grader's data (real NIST36 where
$HW5_DATA_DIR names it, else nist36-lite), with the grader's Q2 and Q5.1 functions patched in; the
rubric runs the three in one process so the 100 epochs run once. The grader recomputes every number
it scores from the returned weights, with its own forward pass.

Bars (nist36-lite v3, `python benchmarks/q5_threshold.py`, 20 seeds of the reference): mean + 6 sd
of the training loss and of its fall, mean - 6 sd of the validation PSNR. A submission as good as
the reference misses one with probability about 1e-9 (normal spread). On the real NIST36, which
cannot be had here to measure, the same bars are used (public write-ups report 15.6-16.4 dB there).
"""
import numpy as np
import pytest
from scipy.special import expit

from hw5data.choose import LITE, REAL
from hw5data.nist36 import CLASSES
from spec_tests import protocol
from spec_tests.gradcheck import (
    AUTOENCODER_LAYERS,
    autoencoder_reconstruct,
    mean_psnr,
    numerical_gradient,
    relative_error,
    scale_hint,
    trusted_autoencoder_functions,
    trusted_contract_functions,
)

question = pytest.mark.question
SHAPES = {"layer1": (1024, 32), "layer2": (32, 32), "layer3": (32, 32), "output": (32, 1024)}
EPOCHS = 100
# Reference, 20 seeds on nist36-lite v3 (mean, sd): loss fall 0.293 (0.031), training loss per image
# 27.7 (3.1), validation PSNR 16.20 dB (0.53 dB; min 15.37, max 17.25).
# On the real NIST36 (not measurable here) an epoch has 1.8 times the batches, so the first epoch's
# mean loss is lower and the fall smaller: its fall bar is set loose (a quarter) and unmeasured.
LOSS_FALL_BAR = {LITE: 0.48, REAL: 0.75}      # last epoch's loss / first epoch's, at most
LOSS_BAR = {LITE: 46.0, REAL: 46.0}           # squared error per training image after training, at most
PSNR_BAR = {LITE: 13.0, REAL: 13.0}           # mean validation PSNR in dB, at least
GRAD_TOL = 1e-6                               # central differences land near 1e-9 (see gradcheck.py)
SAME_NETWORK = " (the network trains and is evaluated with the grader's Q2 and Q5.1 functions: this is its training loop's result)"


@pytest.fixture(scope="module")
def run_q5(submission):
    return submission.module("run_q5")


def _learned(params):
    """The 8 learned arrays of an autoencoder params dict, by key."""
    return {kind + name: params[kind + name] for name in AUTOENCODER_LAYERS for kind in ("W", "b")}


def _drawn_params(rng, sizes):
    """Autoencoder params of the given layer sizes, scaled so that about half the ReLUs are on."""
    params = {}
    for name, fan_in, fan_out in zip(AUTOENCODER_LAYERS, sizes[:-1], sizes[1:], strict=True):
        params["W" + name] = rng.normal(0, 1 / np.sqrt(fan_in), (fan_in, fan_out))
        params["b" + name] = rng.normal(0, 0.3, fan_out)
    return params


# --- Q5.1.1 the network and its loss --------------------------------------------------------------

@question("5.1.1")
def test_initialize_autoencoder_builds_1024_32_32_32_1024_layers(submission, run_q5):
    """initialize_autoencoder() holds the layers 1024-32, 32-32, 32-32, 32-1024, with random weights"""
    # Q5 fixes the layers, not their initialisation (Xavier, He, ...): only the shapes are graded, and
    # a Q2.1.2 initialize_weights bug is charged there (the grader's is patched in).
    with submission.patched(trusted_contract_functions()):
        params = run_q5.initialize_autoencoder()
    for name, (fan_in, fan_out) in SHAPES.items():
        W, b = np.asarray(params.get("W" + name)), np.asarray(params.get("b" + name))
        assert W.shape == (fan_in, fan_out), f"params['W{name}'] has shape {W.shape}; expected {(fan_in, fan_out)}"
        assert b.size == fan_out, f"params['b{name}'] has shape {b.shape}; expected {fan_out} biases"
        assert W.std() > 0, f"W{name} is constant: a network must start from random weights (Q2.1.1)"


@question("5.1.1")
def test_autoencoder_forward_is_relu_relu_relu_sigmoid(submission, run_q5, rng):
    """autoencoder_forward(x, params) applies ReLU after the three hidden layers and the sigmoid after the last"""
    params = _drawn_params(rng, (1024, 32, 32, 32, 1024))
    x = rng.uniform(0, 1, (6, 1024))
    with submission.patched(trusted_contract_functions()):
        out = np.asarray(run_q5.autoencoder_forward(x, dict(params)))
    assert out.shape == x.shape, f"autoencoder_forward returned shape {out.shape} for x {x.shape}; expected {x.shape}"
    expected = autoencoder_reconstruct(params, x)
    if np.allclose(out, expected, rtol=1e-6, atol=1e-9):
        return
    for activation, wrong in (("the sigmoid", expit), ("no activation", lambda z: z)):
        hidden = x
        for name in AUTOENCODER_LAYERS[:-1]:
            hidden = wrong(hidden @ params["W" + name] + params["b" + name])
        if np.allclose(out, expit(hidden @ params["Woutput"] + params["boutput"]), rtol=1e-6):
            pytest.fail(f"the hidden layers use {activation}; the handout asks for ReLU after each of the three", pytrace=False)
    pytest.fail("the output is not sigmoid(ReLU(ReLU(ReLU(x W1 + b1) W2 + b2) W3 + b3) W4 + b4); "
                f"largest difference {np.max(np.abs(out - expected)):.3g}", pytrace=False)


@question("5.1.1")
def test_squared_error_is_the_total_over_the_batch_and_the_pixels(run_q5):
    """squared_error(x, out) is the total squared error sum((out - x)^2) on a hand-computed case"""
    x = np.array([[0.0, 1.0, 0.5], [1.0, 1.0, 0.0]])
    out = np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.25]])
    # 0.25 + 0.25 + 0 + 0 + 1 + 0.0625 = 1.5625; the mean over the 6 pixels would be 0.2604
    got = float(run_q5.squared_error(x, out))
    assert np.isclose(got, 1.5625), f"squared_error gave {got:.6g}; the total squared error is 1.5625" + \
        (" (that is the mean: the handout's loss is the total)" if np.isclose(got, 1.5625 / 6) else "")


@question("5.1.1")
def test_autoencoder_backwards_matches_central_differences(submission, run_q5, rng):
    """autoencoder_backwards gives the gradient of the total squared error of autoencoder_forward, for every layer's W and b"""
    sizes = (7, 4, 4, 4, 7)  # the functions take any layer sizes; small ones keep 2 x 131 forward passes cheap
    params = _drawn_params(rng, sizes)
    x = rng.uniform(0, 1, (5, 7))
    theirs = dict(params)
    with submission.patched(trusted_contract_functions()):
        out = run_q5.autoencoder_forward(x, theirs)
        run_q5.autoencoder_backwards(x, out, theirs)
        numeric = {key: numerical_gradient(lambda: _their_loss(run_q5, x, params), value)
                   for key, value in _learned(params).items()}

    for key in _learned(params):
        # A ReLU kink lies within EPS of one of the 60 hidden pre-activations with probability
        # below 1e-4, the only way central differences miss for a right answer.
        want = numeric[key]
        analytic = np.asarray(theirs.get("grad_" + key))
        error = relative_error(analytic, want, f"params['grad_{key}']")
        if error > GRAD_TOL and relative_error(2 * analytic, want) < GRAD_TOL:
            pytest.fail(f"grad_{key} is half the gradient: d/d(out) of sum((out - x)^2) is 2 (out - x)", pytrace=False)
        assert error <= GRAD_TOL, f"grad_{key} differs from central differences (relative error {error:.2e} > " \
                                  f"{GRAD_TOL:g}).{scale_hint(analytic, want, len(x))}"


def _their_loss(run_q5, x, params):
    """The total squared error of the submission's own autoencoder_forward: backwards must be the
    gradient of what its forward computes, so a forward bug (graded above) is not charged again."""
    return float(np.sum((np.asarray(run_q5.autoencoder_forward(x, dict(params))) - x) ** 2))


# --- Q5.1.2 momentum --------------------------------------------------------------------------------

@question("5.1.2")
def test_momentum_accumulators_start_at_zero_one_per_parameter(run_q5):
    """initialize_autoencoder() adds a zero accumulator params['m_'+key] shaped like each of the 8 learned arrays"""
    params = run_q5.initialize_autoencoder()
    for key, value in _learned(params).items():
        accumulator = params.get("m_" + key)
        assert accumulator is not None, f"params has no momentum accumulator 'm_{key}' for '{key}'"
        assert np.shape(accumulator) == np.shape(value), f"params['m_{key}'] has shape {np.shape(accumulator)}; expected {np.shape(value)}"
        assert np.all(np.asarray(accumulator) == 0), f"params['m_{key}'] must start at zero"


def _one_momentum_step(run_q5, rng, learning_rate=0.01):
    """Drawn weights, accumulators and gradients; momentum_step once. Returns (before, after) dicts."""
    params = _drawn_params(rng, (5, 3, 3, 3, 5))
    for key in list(params):
        params["m_" + key] = rng.normal(0, 0.1, params[key].shape)
        params["grad_" + key] = rng.normal(0, 1, params[key].shape)
    before = {k: np.copy(v) for k, v in params.items()}
    run_q5.momentum_step(params, learning_rate)
    return before, params


@question("5.1.2")
def test_momentum_step_updates_each_accumulator(run_q5, rng):
    """momentum_step(params, lr) sets M = 0.9 M - lr dJ/dW for each of the 8 learned arrays"""
    before, params = _one_momentum_step(run_q5, rng)
    for key in _learned(before):
        got = np.asarray(params["m_" + key])
        if np.allclose(got, 0.9 * before["m_" + key] + 0.01 * before["grad_" + key]):
            pytest.fail(f"m_{key} adds the gradient: M = 0.9 M - lr dJ/dW (it must point downhill)", pytrace=False)
        if np.allclose(got, -0.01 * before["grad_" + key]):
            pytest.fail(f"m_{key} forgets its old value: M = 0.9 M - lr dJ/dW", pytrace=False)
        assert np.allclose(got, 0.9 * before["m_" + key] - 0.01 * before["grad_" + key]), \
            f"m_{key} after one step is not 0.9 M - lr dJ/dW"


@question("5.1.2")
def test_momentum_step_moves_each_array_by_its_new_accumulator(run_q5, rng):
    """momentum_step(params, lr) then sets W = W + M with the M it just computed"""
    before, params = _one_momentum_step(run_q5, rng)
    for key in _learned(before):
        moved = np.asarray(params[key]) - before[key]
        if np.allclose(moved, before["m_" + key]) and not np.allclose(moved, params["m_" + key]):
            pytest.fail(f"{key} moved by the old accumulator: update M first, then W = W + M", pytrace=False)
        assert np.allclose(moved, params["m_" + key]), f"{key} after one step is not W + M (with the new M)"


# --- Q5.3.2 PSNR (before the training below, so that a crash there cannot take this check with it)

@question("5.3.2")
def test_mean_psnr_is_the_mean_of_each_image_psnr(run_q5):
    """mean_psnr(x, recon) averages per-image PSNR = -10 log10(MSE) for pixels in [0, 1]"""
    x = np.full((3, 1024), 0.5)
    signs = np.where(np.arange(1024) % 2, 1.0, -1.0)
    recon = x + signs * np.sqrt([[1e-2], [1e-3], [1e-4]])   # per-image MSE 1e-2, 1e-3, 1e-4: 20, 30, 40 dB
    got = float(run_q5.mean_psnr(x, recon))
    hints = {30 + 20 * np.log10(2): "MAX_I = 2 (old skimage's compare_psnr took [-1, 1] as the range of floats); pass data_range=1",
             30 + 20 * np.log10(255): "MAX_I = 255; these pixels lie in [0, 1], so MAX_I = 1",
             -10 * np.log10(np.mean([1e-2, 1e-3, 1e-4])): "that is the PSNR of the pooled MSE; average each image's PSNR"}
    hint = next((h for value, h in hints.items() if np.isclose(got, value, atol=1e-3)), "")
    assert np.isclose(got, 30.0, atol=1e-6), f"mean_psnr gave {got:.4f} dB; the images' PSNRs are 20, 30 and 40 dB, mean 30" + \
        (f" ({hint})" if hint else "")


# --- Q5.2 / Q5.3 the trained autoencoder ---------------------------------------------------------------

# The handout's starter run_q5.py: max_iters = 100, batch_size = 36, learning_rate = 3e-5, hidden_size
# = 32, and `if itr % lr_rate == lr_rate-1: learning_rate *= 0.9` with lr_rate = 20.
STARTER = {"epochs": EPOCHS, "batch_size": 36, "learning_rate": 3e-5, "hidden_size": 32}
DECAY_EVERY, DECAY = 20, 0.9


@pytest.fixture(scope="module")
def trained(submission, run_q5, nist36, grading_seed):
    """The submission's train_autoencoder on the grader's data, run once, with the handout's settings
    passed to it (its own defaults are graded by the schedule check: a wrong default costs that check
    only) and the grader's Q2 and Q5.1 functions in place of its own (charged there): this grades its
    training loop."""
    submission.seed(grading_seed)
    with submission.patched(trusted_autoencoder_functions()):
        params, losses = run_q5.train_autoencoder(nist36.splits["train"][0].copy(), **STARTER)  # a copy: it may edit its input
    return params, np.asarray(losses, dtype=float), nist36


@question("5.2")
def test_training_follows_the_starters_schedule(submission, run_q5, rng):
    """train_autoencoder's defaults are the starter's: 100 epochs of batches of 36, the rate 3e-5 times 0.9 after every 20th epoch"""
    # Observed through the calls, on 108 random rows (3 batches an epoch): the grader's momentum_step
    # logs each step's learning rate, its get_random_batches and autoencoder_forward the batch size.
    rows, per_epoch = 108, 3
    x = rng.uniform(0, 1, (rows, 1024))
    with submission.patched(trusted_autoencoder_functions()) as calls:
        run_q5.train_autoencoder(x)
    rates = np.asarray(calls.log.get("momentum_step", []), dtype=float)
    sizes = {size for _, size in calls.log.get("get_random_batches", [])} | \
            {n for n in calls.log.get("autoencoder_forward", []) if n < rows}
    assert sizes, "train_autoencoder called neither get_random_batches nor autoencoder_forward on a batch, so its " \
                  "batch size cannot be seen (docs/contract.md: it trains with those functions)"
    assert sizes == {STARTER["batch_size"]}, f"train_autoencoder trains on batches of {sorted(sizes)} rows; the starter's batch_size is 36"
    assert len(rates), "train_autoencoder never called momentum_step(params, learning_rate): the handout's momentum update " \
                       "runs every batch, and the grader reads the learning rate from those calls (docs/contract.md)"
    epochs = len(rates) / per_epoch
    assert epochs == EPOCHS, f"train_autoencoder took {len(rates)} momentum steps on {rows} rows in batches of 36: " \
                             f"{epochs:g} epochs of {per_epoch} batches; the starter trains for max_iters = {EPOCHS}"
    want = STARTER["learning_rate"] * DECAY ** (np.arange(EPOCHS) // DECAY_EVERY)
    got = rates.reshape(EPOCHS, per_epoch)
    wrong = [e for e in range(EPOCHS) if not np.allclose(got[e], want[e], rtol=1e-6, atol=0)]
    assert not wrong, f"epoch {wrong[0] + 1} trains at learning rate {got[wrong[0]][0]:.4g}; the starter's is " \
                      f"{want[wrong[0]]:.4g}: 3e-5, times 0.9 after every 20th epoch ({len(wrong)} of {EPOCHS} epochs differ)"


@question("5.2")
def test_train_autoencoder_returns_the_network_and_one_loss_per_epoch(trained, record_property):
    """train_autoencoder(train_x) returns the trained 1024-32-32-32-1024 params and 100 per-epoch losses"""
    params, losses, data = trained
    record_property(protocol.DATA_PROPERTY, data.description)
    for name, shape in SHAPES.items():
        assert np.shape(params.get("W" + name)) == shape, f"params['W{name}'] has shape {np.shape(params.get('W' + name))}; expected {shape}"
    assert losses.shape == (EPOCHS,), f"losses has shape {losses.shape}; expected one value per epoch ({EPOCHS},) with the default settings"
    assert np.all(np.isfinite(losses)), "some epoch's loss is not finite"


@question("5.2")
def test_training_loss_falls_over_100_epochs(trained, record_property, show_finding):
    """The loss history falls and the trained network's own training loss reaches the bar for the grader's data"""
    params, losses, data = trained
    record_property(protocol.DATA_PROPERTY, data.description)
    x = data.splits["train"][0]
    loss = float(np.sum((autoencoder_reconstruct(params, x) - x) ** 2)) / len(x)
    fall = losses[-1] / losses[0] if losses.size and losses[0] > 0 else np.inf
    show_finding(f"training loss per image after 100 epochs: {loss:.1f} (the history's last epoch / first: {fall:.2f})")
    assert fall <= LOSS_FALL_BAR[data.name], \
        f"the last epoch's loss is {fall:.2f} of the first's; the reference's falls to under {LOSS_FALL_BAR[data.name]:.2f}"
    assert loss <= LOSS_BAR[data.name], \
        f"the trained network's squared error per training image is {loss:.1f}; the bar on {data.name} is {LOSS_BAR[data.name]:.1f}{SAME_NETWORK}"


@question("5.2")
def test_plot_loss_writes_a_png_figure(run_q5, trained, out_dir, show_figure):
    """plot_loss(losses, path) draws the training loss curve as a PNG file"""
    show_figure(run_q5.plot_loss(trained[1], out_dir / "loss.png"), "Q5.2 training loss over 100 epochs")


@question("5.3.1")
def test_reconstructions_of_two_validation_images_of_five_classes(run_q5, trained, out_dir, show_figure):
    """example_rows picks 2 validation images of each of 5 classes; plot_reconstructions draws them and the autoencoder's output"""
    params, _, data = trained
    vx, vy = data.splits["valid"]
    rows = np.asarray(run_q5.example_rows(vy))
    classes = vy[rows].argmax(1)
    assert rows.shape == (10,) and len(set(classes)) == 5 and np.all(np.bincount(classes) <= 2), \
        f"example_rows gave rows of classes {' '.join(CLASSES[c] for c in sorted(classes))}; expected 2 rows of each of 5 classes"
    reconstructed = autoencoder_reconstruct(params, vx[rows])
    show_figure(run_q5.plot_reconstructions(vx[rows], reconstructed, out_dir / "reconstructions.png"),
                "Q5.3.1 validation images (top) and the autoencoder's reconstructions")


@question("5.3.2")
def test_trained_autoencoder_reaches_the_psnr_bar(run_q5, trained, record_property, show_finding):
    """The trained autoencoder's mean validation PSNR reaches the bar for the grader's data"""
    params, _, data = trained
    record_property(protocol.DATA_PROPERTY, data.description)
    vx = data.splits["valid"][0]
    reconstructed = autoencoder_reconstruct(params, vx)
    psnr = mean_psnr(vx, reconstructed)
    try:  # the submission's own number, for the report only: its mean_psnr is scored above
        theirs = f"the submission's mean_psnr says {float(run_q5.mean_psnr(vx.copy(), reconstructed.copy())):.2f} dB"
    except Exception as exc:  # noqa: BLE001  (whatever it raises costs nothing here)
        theirs = f"the submission's mean_psnr failed on these images: {type(exc).__name__}: {str(exc)[:120]}"
    show_finding(f"mean validation PSNR {psnr:.2f} dB on {data.name} ({len(vx)} images); {theirs}")
    assert psnr >= PSNR_BAR[data.name], \
        f"mean validation PSNR is {psnr:.2f} dB after {EPOCHS} epochs; the bar on {data.name} is {PSNR_BAR[data.name]:.2f} dB{SAME_NETWORK}"
