"""What one part of estimate_mi's candidate list adds: a family's default calls with that part switched off.

Run: ``.venv/bin/python benchmarks/ablate.py --without standardised|x_given_y|density_ratio [--family nongaussian]
[--seed 0]``, and ``--without nothing`` for the full list on the same samples. One thread; prints, per task, the
estimate, its error against the truth and the critic that reported.

- ``standardised``: the density-ratio critic on the standardised view is never fitted (only normal scores);
- ``x_given_y``: the density-ratio critic is never refitted modelling x given y (so no average of both sides either);
- ``density_ratio``: no density-ratio candidate at all (``density_ratio=False``).
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import torch

import neuralmi._fit
from neuralmi import estimate_mi
from neuralmi.benchmark import get_family, get_task

PARTS = ("nothing", "standardised", "x_given_y", "density_ratio")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--without", choices=PARTS, required=True)
    parser.add_argument("--family", default="nongaussian")
    parser.add_argument("--seed", type=int, default=0, help="data and estimator seed (0: the samples `neuralmi bench` uses)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    options: dict[str, Any] = {}
    if args.without == "standardised":
        neuralmi._fit._copula_suffices = lambda candidates: True
    elif args.without == "x_given_y":
        neuralmi._fit._other_side = lambda *a, **k: None
    elif args.without == "density_ratio":
        options["density_ratio"] = False
    print(f"{'task':<28} {'truth':>8} {'estimate':>9} {'error':>7}  critic")
    for name in get_family(args.family):
        task = get_task(name)
        x, y = task.sample(args.seed)
        kwargs: dict[str, Any] = {**task.options, **options}
        r = estimate_mi(x, y, progress=False, seed=args.seed, threads=1, **kwargs)
        error = f"{100 * (r.nats / task.truth - 1):+.1f}%" if task.truth > 0 else "—"
        print(f"{name:<28} {task.truth:>8.4f} {r.nats:>9.4f} {error:>7}  {r.critic_kind}", flush=True)


if __name__ == "__main__":
    main()
