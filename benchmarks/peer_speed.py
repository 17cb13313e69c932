"""neuralmi's default estimate_mi beside torch-mist's default MINE on the same samples, one thread each, seed by seed.

For each seed, one sample of the task is drawn; the default ``estimate_mi`` runs on it, then
torch-mist's MINE (in its own venv, :func:`neuralmi.benchmark.peers.torch_mist`: it trains on
neuralmi's training and validation rows and reports on neuralmi's test split). Printed per seed:
both estimates, both wall times and their ratio, and the seconds of each neuralmi candidate
critic (``result.candidates``); then the medians. The two alternate, so a busy machine slows both.

Run: ``NEURALMI_PEERS_PYTHON=.peers-venv/bin/python PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python
benchmarks/peer_speed.py [--task gaussian_5d_3nat] [--seeds 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import torch

from neuralmi import estimate_mi
from neuralmi.benchmark import get_task
from neuralmi.benchmark.peers import torch_mist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="gaussian_5d_3nat")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    task = get_task(args.task)
    print(f"{args.task}: truth {task.truth:.4f} nats, n = {task.n:,}, torch {torch.__version__}, one thread")
    ours, theirs = [], []
    for seed in range(args.seeds):
        x, y = task.sample(seed)
        r = estimate_mi(x, y, seed=seed, progress=False, threads=1)
        peer = torch_mist(x, y, "mine", seed=seed)
        ours.append((r.seconds, r.nats))
        theirs.append((peer.seconds, peer.nats))
        parts = ", ".join(f"{name} {c['seconds']:.1f} s" for name, c in r.candidates.items())
        print(
            f"seed {seed}: neuralmi {r.nats:.4f} ± {r.stderr:.4f} ({r.critic_kind}) in {r.seconds:.1f} s; "
            f"torch-mist MINE {peer.nats:.4f} in {peer.seconds:.1f} s; ratio {peer.seconds / r.seconds:.2f}x; "
            f"candidates: {parts}",
            flush=True,
        )
    med = statistics.median
    print(
        f"median seconds: neuralmi {med(s for s, _ in ours):.1f}, torch-mist MINE {med(s for s, _ in theirs):.1f}; "
        f"median ratio {med(t[0] / o[0] for o, t in zip(ours, theirs)):.2f}x; median |error|: neuralmi "
        f"{med(abs(v - task.truth) for _, v in ours):.4f} nats, torch-mist MINE {med(abs(v - task.truth) for _, v in theirs):.4f} nats"
    )


if __name__ == "__main__":
    main()
