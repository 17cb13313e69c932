"""Worker run by the peers' venv (torch-mist, numpy < 2): ``python _torch_mist_worker.py data.npz out.json ESTIMATOR SEED``.

Standalone on purpose: it imports torch-mist, never neuralmi. ``data.npz`` holds ``x``, ``y`` (the
training samples) and ``x_test``, ``y_test`` (the held-out samples neuralmi reports on). torch-mist
runs at its defaults (``hidden_dims`` is required by its factories: [256, 256], its documented
example width), on one thread, and reports on the held-out samples.
"""

import json
import sys
import time

import numpy as np
import torch

torch.set_num_threads(1)


def main() -> None:
    data_path, out_path, estimator, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    from torch_mist import estimate_mi

    torch.manual_seed(seed)
    with np.load(data_path) as d:
        train = (torch.from_numpy(d["x"]).float(), torch.from_numpy(d["y"]).float())
        test = (torch.from_numpy(d["x_test"]).float(), torch.from_numpy(d["y_test"]).float())
    start = time.perf_counter()
    value = estimate_mi(train, estimator=estimator, test_data=test, hidden_dims=[256, 256], verbose=False)
    seconds = time.perf_counter() - start
    if isinstance(value, tuple):  # (estimate, training log) with its default logger
        value = value[0]
    with open(out_path, "w") as f:
        json.dump({"nats": float(value), "seconds": seconds}, f)


if __name__ == "__main__":
    main()
