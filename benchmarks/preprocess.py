"""Per-feature preprocessing compared: standardize against normal scores, seed-0 samples, one thread.

Run: ``.venv/bin/python benchmarks/preprocess.py student_t_dof3,transformed_gaussian,gaussian_5d_3nat``.
"""

from __future__ import annotations

import sys
import warnings

import torch

from neuralmi import estimate_mi
from neuralmi.benchmark import get_task


def main() -> None:
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    names = sys.argv[1] if len(sys.argv) > 1 else "student_t_dof3,transformed_gaussian,gaussian_5d_3nat"
    for name in names.split(","):
        task = get_task(name)
        x, y = task.sample(0)
        for prep in ("standardize", "normal_scores"):
            r = estimate_mi(x, y, progress=False, preprocess=prep)
            err = 100 * (r.nats - task.truth) / task.truth
            print(
                f"{name:<22} {prep:<14} truth {task.truth:.4f} est {r.nats:.4f} ± {r.stderr:.4f} err {err:+.1f}% {r.seconds:.1f}s"
            )


if __name__ == "__main__":
    main()
