"""Trusted oracles for the spec tests; independent of any submission and of solution/."""
import numpy as np
from scipy.special import expit, softmax

# CS231n-style threshold on the norm-relative error of a gradient of a smooth float64 function.
# Central differences with EPS = 1e-6 land near 1e-9 here; a wrong rule lands above 1e-2.
EPS = 1e-6
GRAD_TOL = 1e-6


def numerical_gradient(f, x, eps=EPS):
    """Central differences of the scalar f() w.r.t. the array x, perturbed in place and restored.

    Inputs: f: () -> float, x: any-shape float array. Returns: array of x's shape.
    """
    grad = np.zeros_like(x, dtype=float)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        plus = f()
        x[index] = original - eps
        minus = f()
        x[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a, b):
    """||a - b|| / max(||a|| + ||b||, 1e-12) -> float in [0, 1]."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12))


def make_two_layer_problem(rng, n=8, d=5, h=4, c=3):
    """A sigmoid-hidden, softmax-output network and a batch.

    Returns: params {'Wlayer1' (d, h), 'blayer1' (h,), 'Woutput' (h, c), 'boutput' (c,)},
             x (n, d), y (n, c) one-hot.
    """
    params = {
        "Wlayer1": rng.normal(0, 0.5, (d, h)), "blayer1": rng.normal(0, 0.5, h),
        "Woutput": rng.normal(0, 0.5, (h, c)), "boutput": rng.normal(0, 0.5, c),
    }
    x = rng.normal(0, 1, (n, d))
    y = np.eye(c)[rng.integers(0, c, n)]
    return params, x, y


def two_layer_forward(params, x):
    """Trusted forward pass. Returns (hidden pre, hidden post, output pre, probs)."""
    pre1 = x @ params["Wlayer1"] + params["blayer1"]
    post1 = expit(pre1)
    pre2 = post1 @ params["Woutput"] + params["boutput"]
    return pre1, post1, pre2, softmax(pre2, axis=1)


def two_layer_loss(params, x, y):
    """Summed cross-entropy of the two-layer network on (x, y)."""
    probs = two_layer_forward(params, x)[3]
    return float(-np.sum(y * np.log(probs)))


def two_layer_gradients(params, x, y):
    """Trusted closed-form backprop of two_layer_loss. Returns {key: gradient} for the 4 params."""
    _, post1, _, probs = two_layer_forward(params, x)
    d_pre2 = probs - y
    d_pre1 = (d_pre2 @ params["Woutput"].T) * post1 * (1 - post1)
    return {
        "Woutput": post1.T @ d_pre2, "boutput": d_pre2.sum(axis=0),
        "Wlayer1": x.T @ d_pre1, "blayer1": d_pre1.sum(axis=0),
    }


def trusted_contract_functions():
    """Oracle versions of the nn.py/util.py functions a training loop calls, by contract name.

    A test of the training loop patches these over the submission's own, so that a bug graded in
    another question (softmax, forward, ...) does not cost the loop's points a second time.
    """
    def sigmoid_deriv(post):
        return post * (1 - post)

    def forward(X, params, name="", activation=expit):
        pre = X @ params["W" + name] + params["b" + name]
        params["cache_" + name] = (X, pre, activation(pre))
        return params["cache_" + name][2]

    def backwards(delta, params, name="", activation_deriv=sigmoid_deriv):
        X, _, post = params["cache_" + name]
        grad_pre = delta * activation_deriv(post)
        params["grad_W" + name], params["grad_b" + name] = X.T @ grad_pre, grad_pre.sum(axis=0)
        return grad_pre @ params["W" + name].T

    def compute_loss_and_acc(y, probs):
        return float(-np.sum(y * np.log(probs))), float(np.mean(probs.argmax(1) == y.argmax(1)))

    def get_random_batches(x, y, batch_size):
        order = np.random.permutation(len(x))
        return [(x[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, len(x), batch_size)]

    return {"sigmoid": expit, "sigmoid_deriv": sigmoid_deriv, "softmax": lambda x: softmax(x, axis=1),
            "forward": forward, "backwards": backwards, "compute_loss_and_acc": compute_loss_and_acc,
            "get_random_batches": get_random_batches, "linear": lambda x: x, "linear_deriv": np.ones_like}


AUTOENCODER_LAYERS = ("layer1", "layer2", "layer3", "output")


def mean_psnr(x, reconstructed):
    """Trusted Q5.3.2/Q6.3 PSNR: the mean over rows of -10 log10(row MSE), MAX_I = 1. (N, D) each -> float."""
    return float(np.mean(-10 * np.log10(np.mean((np.asarray(reconstructed) - x) ** 2, axis=1))))


def autoencoder_reconstruct(params, x):
    """Trusted Q5 forward pass: ReLU, ReLU, ReLU, sigmoid through AUTOENCODER_LAYERS.
    x (N, D) -> (N, D)."""
    hidden = x
    for name in AUTOENCODER_LAYERS[:-1]:
        hidden = np.maximum(hidden @ params["W" + name] + params["b" + name], 0)
    return expit(hidden @ params["Woutput"] + params["boutput"])
