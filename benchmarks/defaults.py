"""How estimate_mi's defaults were chosen: candidate configurations on ground-truth tasks, one CPU thread.

Run: ``.venv/bin/python benchmarks/defaults.py`` (about 5 minutes). Each row: estimate ± reported
standard error, the gap to the truth in standard errors (z) and percent, seconds and steps.
"""

from __future__ import annotations

import argparse
import json
import warnings

import torch

from neuralmi import estimate_mi
from neuralmi.benchmark import get_task

CANDIDATES: dict[str, dict[str, object]] = {
    "default": {},
    "no Gaussian candidate": {"gaussian_critic": False},
    "Gaussian candidate not refined": {"quadratic_steps": 0},
    "constant lr, 3000 steps (before)": {"lr_schedule": "constant", "max_steps": 3000},
    "js->dv (train JS, report DV)": {"bound": "js"},
    "infonce": {"bound": "infonce"},
    "softplus activation": {"activation": "softplus"},
    "relu activation": {"activation": "relu"},
    "no weight averaging": {"average": 0.0},
    "batch 512, lr 5e-4": {"batch_size": 512, "lr": 5e-4},
    "weight decay 1.0": {"weight_decay": 1.0},
}
TASKS = (
    "gaussian_1d_rho0.4",
    "binary_channel",
    "gaussian_5d_1nat",
    "gaussian_5d_3nat",
    "gaussian_5d_5nat",
    "pm1_vector_7",
    "shaped_8x4",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--extra", default="{}", help="JSON options applied on top of every candidate")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(
        f"{'candidate':<30} {'task':<20} {'truth':>7} {'estimate':>16} {'z':>6} {'error':>7} {'sec':>6} {'steps':>6}  "
        "critic (validation values)"
    )
    for name in args.candidates:
        for task_name in args.tasks:
            task = get_task(task_name)
            x, y = task.sample(seed=1)
            r = estimate_mi(x, y, progress=False, **CANDIDATES[name], **json.loads(args.extra))
            z = (r.nats - task.truth) / r.stderr if r.stderr > 0 else float("nan")
            print(
                f"{name:<30} {task_name:<20} {task.truth:>7.3f} {r.nats:>8.3f} ± {r.stderr:.3f} {z:>+6.1f} "
                f"{100 * (r.nats - task.truth) / task.truth:>+6.1f}% {r.seconds:>6.1f} {r.steps:>6}  "
                f"{r.critic_kind} ({', '.join(f'{k} {v:.3f}' for k, v in r.selection.items())})",
                flush=True,
            )


if __name__ == "__main__":
    main()
