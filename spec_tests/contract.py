"""The submission contract (docs/contract.md) as data: what each module defines, and which modules
each question's tests call.

A submission's modules import each other by these plain names, as in the handout's python/ folder.
"""

# module -> the functions the contract asks it to define
CONTRACT = {
    "util": ("relu", "relu_deriv", "linear", "linear_deriv"),
    "nn": ("initialize_weights", "sigmoid", "sigmoid_deriv", "forward", "backwards", "softmax",
           "compute_loss_and_acc", "get_random_batches"),
    "run_q2": ("apply_gradients", "train", "numerical_gradients", "relative_error"),
    "run_q3": ("train_nist36", "plot_curves", "accuracy", "learning_rate_sweep", "plot_learning_rates",
               "weight_images", "plot_first_layer_weights", "confusion_matrix", "most_confused_pairs",
               "plot_confusion_matrix"),
    "q4": ("findLetters",),
    "run_q5": ("initialize_autoencoder", "autoencoder_forward", "squared_error", "autoencoder_backwards",
               "momentum_step", "train_autoencoder", "plot_loss", "example_rows", "plot_reconstructions",
               "mean_psnr"),
    "run_q6": ("pca_fit", "pca_reconstruct", "parameter_counts"),
    "run_q4": ("group_lines", "lines_text", "to_nist_rows", "read_text", "plot_boxes", "plot_crops"),
    "q7_mlp": ("build_model", "train", "predict", "plot_history"),
    "q7_mnist": ("build_model", "train", "predict", "plot_history"),
    "q7_nist36_cnn": ("build_model", "train", "predict", "plot_history"),
    "q7_emnist": ("build_model", "train", "predict", "read_boxes", "plot_history"),
    "q7_flowers": ("build_finetune", "build_scratch", "train", "predict"),
}

# question id (or its section, "2" for every Q2.x) -> the modules its tests call. The code those call
# runs what the modules import too. The grader holds the tests to it: a test that asks for a module
# its question does not list is a grader error (spec_tests/submission.py), so the map cannot go
# stale; the known-wrong corpus reads it to grade a fixture only where its changed code runs.
QUESTION_MODULES = {
    "1": ("nn", "util"), "2": ("nn", "util", "run_q2"), "3": ("run_q3", "nn"),
    "4.2": ("q4",), "4.3": ("q4", "run_q4"), "4.4": ("q4", "run_q4", "run_q3"),
    "5": ("run_q5",), "6": ("run_q6", "run_q5"), "7.1.1": ("q7_mlp",), "7.1.2": ("q7_mnist",),
    "7.1.3": ("q7_nist36_cnn",), "7.1.4": ("q7_emnist",), "7.2.1": ("q7_flowers",),
}


def modules_of(question_id):
    """The modules question_id's tests call (its own entry, else its section's), or None: any."""
    return QUESTION_MODULES.get(question_id, QUESTION_MODULES.get(question_id.split(".")[0]))
