"""The everyday recipe: maximise I(A; B) with ``loss = -mi(a, b) + lam * R`` and check it against the truth.

A learnable linear channel sends A ~ N(0, I_d) to B = W A + E with E ~ N(0, I_d) (in one
dimension: b = rho * a + noise with a learnable gain rho). Its MI is known in closed form,
I(A; B) = 1/2 log det(I + W W^T), so the training curve can be checked at every step.

Maximising MI alone would grow W without limit, so the loss adds a weight penalty
R = ||W||_F^2 (a power budget): ``loss = -mi(a, b) + lam * ||W||^2``. The critic and W are trained
together by one optimiser on this one loss. The optimum is known too: every singular value of
W reaches s^2 = 1/(2 lam) - 1, where I(A; B) = d/2 log(1/(2 lam)).

``mi`` is ``MILoss(ConcatCritic(...), "dv")`` with either sampler: all pairs of the batch
(the default, N(N-1) marginal pairs) or one shuffled partner per sample (``sampler="shuffle"``,
the original MINE code, N marginal pairs).

    python examples/everyday_recipe.py            # full size, about a minute or two on one CPU
    python examples/everyday_recipe.py --quick    # seconds (smoke test)
"""

from __future__ import annotations

import math

import _common
import numpy as np
import torch
from torch import Tensor, nn

from neuralmi import ConcatCritic, MILoss
from neuralmi.bounds import donsker_varadhan


def true_mi(w: Tensor) -> float:
    """I(A; WA + E) in nats for A, E ~ N(0, I): 1/2 log det(I + W W^T)."""
    with torch.no_grad():
        return 0.5 * float(torch.logdet(torch.eye(len(w)) + w @ w.T))


def run(sampler: str, seed: int, args) -> dict[str, object]:
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    d = args.dim
    w = nn.Parameter(0.1 * torch.randn(d, d, generator=gen))  # the learnable mixing of the channel
    mi = MILoss(ConcatCritic(d, d, hidden=(args.width, args.width), activation="elu"), "dv", sampler=sampler, generator=gen)
    opt = torch.optim.Adam([w, *mi.parameters()], lr=args.lr)
    estimates, truths = [], []
    for _ in range(args.steps):
        a = torch.randn(args.batch, d, generator=gen)
        b = a @ w.T + torch.randn(args.batch, d, generator=gen)
        estimate = mi(a, b)
        loss = -estimate + args.lam * w.pow(2).sum()  # the recipe: -MI + lambda * R
        opt.zero_grad()
        loss.backward()
        opt.step()
        estimates.append(float(estimate.detach()))
        truths.append(true_mi(w))
    # held out: fresh samples of the final channel, DV bound of the trained critic on all pairs
    with torch.no_grad():
        a = torch.randn(args.n_test, d, generator=gen)
        b = a @ w.T + torch.randn(args.n_test, d, generator=gen)
        held_out = float(donsker_varadhan(mi.critic(a, b)))
    tail = max(1, args.steps // 10)
    return {
        "estimates": estimates,
        "truths": truths,
        "final_true": truths[-1],
        "held_out": held_out,
        "batch_sd": float(np.std(np.array(estimates[-tail:]) - np.array(truths[-tail:]))),
    }


def main() -> None:
    p = _common.parser(__doc__.split("\n\n")[0], seeds=3)
    p.add_argument("--dim", type=int, default=2, help="dimension d of A and B")
    p.add_argument("--lam", type=float, default=0.05, help="weight lambda of the penalty ||W||^2 (below 1/2)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default 3000; 40 with --quick)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=64, help="hidden width of the critic")
    p.add_argument("--n-test", type=int, default=1024, help="fresh samples for the held-out estimate")
    args = _common.parse(p)
    if not 0 < args.lam < 0.5:
        p.error("--lam must lie in (0, 0.5): above it the penalty wins and W = 0 is optimal")
    args.steps = args.steps or (40 if args.quick else 3000)
    if args.quick:
        args.n_test = min(args.n_test, 256)
    seeds = [args.seed + i for i in range(1 if args.quick else args.seeds)]
    optimum = 0.5 * args.dim * math.log(1 / (2 * args.lam))

    runs: dict[str, list[dict[str, object]]] = {"all_pairs": [], "shuffle": []}
    for seed in seeds:
        for sampler in runs:
            with _common.Timer() as t:
                r = run(sampler, seed, args)
            r["sec"] = t.seconds
            runs[sampler].append(r)
            print(
                f"seed {seed}  {sampler:>9}: true MI of learned W {r['final_true']:.3f}, held-out estimate {r['held_out']:.3f} "
                f"(optimum {optimum:.3f}; {t.seconds:.1f} s)",
                flush=True,
            )

    rows = []
    for sampler, rs in runs.items():
        label = {"all_pairs": "all pairs (N(N-1) negatives)", "shuffle": "shuffle (MINE code, N negatives)"}[sampler]
        rows.append(
            [
                label,
                _common.mean_spread([r["final_true"] for r in rs]),
                _common.mean_spread([r["held_out"] for r in rs]),
                _common.mean_spread([r["batch_sd"] for r in rs]),
                f"{optimum:.3f}",
                f"{np.mean([r['sec'] for r in rs]):.0f}",
            ]
        )
    _common.print_table(
        f"Gaussian channel B = WA + E, d = {args.dim}, lambda = {args.lam:g}, {len(seeds)} seed(s), {args.steps} steps of batch "
        f"{args.batch} (mean ± sd)",
        [
            "sampler",
            "true I(A;B) of learned W",
            f"held-out DV estimate (n={args.n_test})",
            "sd of batch estimate - truth (last 10%)",
            "optimum I*",
            "seconds per run",
        ],
        rows,
    )
    print(_common.machine())

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    k = 25 if args.steps > 100 else 1
    for (sampler, rs), color in zip(runs.items(), ("tab:red", "tab:blue")):
        est = np.array(rs[0]["estimates"])
        ax.plot(est, c=color, alpha=0.15, lw=0.5)
        ax.plot(
            np.arange(k - 1, len(est)),
            np.convolve(est, np.ones(k) / k, mode="valid"),
            c=color,
            lw=1.2,
            label=f"{sampler}: batch estimate",
        )
        ax.plot(rs[0]["truths"], c=color, ls="--", lw=1.2, label=f"{sampler}: true MI of current W")
    ax.axhline(optimum, c="k", ls=":", lw=1, label=f"optimum I* = {optimum:.2f}")
    ax.set_xlabel("step")
    ax.set_ylabel("nats")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.set_title(f"max I(A; WA+E) - {args.lam:g}·||W||² with MILoss(ConcatCritic, 'dv'), seed {seeds[0]}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    _common.save(fig, args.out, "everyday_recipe.png")


if __name__ == "__main__":
    main()
