"""Q7.1.3: a convolutional network on NIST36 (compare it with Q7.1.1's fully connected one)."""
import argparse
from pathlib import Path

import numpy as np
import torch
from q7_cnn import small_cnn
from q7_train import load_nist36, plot_history, predict_classes, seed_everything, train_classifier

EPOCHS, BATCH_SIZE, LEARNING_RATE = 10, 64, 1e-3
CLASSES, SIDE = 36, 32


def build_model():
    """Q7.1.3 a CNN: (B, 1, 32, 32) -> (B, 36) logits."""
    return small_cnn(CLASSES, SIDE)


def as_tensor(x):
    """NIST36 rows (N, 1024), dark ink on white and stored transposed -> upright images, ink = 1,
    float32 (N, 1, 32, 32)."""
    rows = torch.tensor(np.asarray(x), dtype=torch.float32)
    return (1 - rows.reshape(-1, 1, SIDE, SIDE).transpose(2, 3)).contiguous()


def train(model, x, labels, checkpoint=None):
    """Q7.1.3 train model on NIST36 rows x (N, 1024) with integer labels (N,) in 0..35.
    Returns history {"loss": [...], "accuracy": [...]}, one value per epoch."""
    return train_classifier(model, as_tensor(x), torch.as_tensor(np.asarray(labels), dtype=torch.int64),
                            epochs=EPOCHS, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
                            checkpoint=checkpoint, description="Q7.1.3 NIST36 CNN")


def predict(model, x):
    """Q7.1.3 the class of each row of x (N, 1024): (N,) int array."""
    return predict_classes(model, as_tensor(x))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Q7.1.3: a CNN on NIST36, beside Q7.1.1's MLP")
    parser.add_argument("--data-dir", default="../data", help="folder with nist36_{train,valid}.mat")
    parser.add_argument("--out-dir", default="results")
    args = parser.parse_args(argv)
    import q7_mlp
    x, y, vx, vy = load_nist36(args.data_dir)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, module in (("MLP (Q7.1.1)", q7_mlp), ("CNN (Q7.1.3)", __import__(__name__))):
        seed_everything(0)
        model = module.build_model()
        history = module.train(model, x, y)
        print(f"{name}: training accuracy {history['accuracy'][-1]:.1%}, "
              f"validation accuracy {np.mean(module.predict(model, vx) == vy):.1%}")
    plot_history(history, out / "q7_1_3_curves.png", "Q7.1.3 CNN on NIST36")


if __name__ == "__main__":
    main()
