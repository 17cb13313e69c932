"""GAN + MINE against mode collapse on 25 Gaussians (Belghazi et al. 2018, MINE, section 5.2).

The data are a mixture of 25 Gaussians (std 0.05) centred on a 5x5 grid with spacing 2. The
generator maps noise z and a code c to a point, x = G(z, c). A plain GAN is trained with the
non-saturating loss. GAN+MINE trains the same networks with the same budget, adding
``-beta * I(c; G(z, c))`` to the generator loss, where the mutual information is the MINE
estimate (Donsker-Varadhan bound with the moving-average gradient correction) of a
``ConcatCritic`` that is trained at the same time to maximise it. Rewarding the generator for
outputs that reveal its code pushes different codes to different places, i.e. against collapse.

Reported over seeds: modes covered (a mode counts when at least 1% of 2500 generated samples
lie within 3 std of its centre) and the share of high-quality samples (within 3 std of any
centre).

    python examples/gan_mode_collapse.py            # full size, a few minutes on one CPU
    python examples/gan_mode_collapse.py --quick    # seconds (smoke test)
"""

from __future__ import annotations

import math

import _common
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuralmi import MINE, ConcatCritic, MILoss

STD = 0.05
CENTRES = torch.tensor([(2.0 * i, 2.0 * j) for i in range(-2, 3) for j in range(-2, 3)])


def sample_data(n: int, gen: torch.Generator) -> Tensor:
    """n points of the 25-Gaussian grid mixture."""
    k = torch.randint(0, len(CENTRES), (n,), generator=gen)
    return CENTRES[k] + STD * torch.randn(n, 2, generator=gen)


def mlp(i: int, width: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, o))


class Generator(nn.Module):
    def __init__(self, z_dim: int, c_dim: int, width: int, code: str = "categorical") -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.code = z_dim, c_dim, code
        self.net = mlp(z_dim + c_dim, width, 2)

    def codes(self, n: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """Noise z ~ N(0, I) and code c: one-hot of a uniform category, or uniform on [-1, 1]^c_dim."""
        z = torch.randn(n, self.z_dim, generator=gen)
        if self.code == "categorical":
            c = F.one_hot(torch.randint(0, self.c_dim, (n,), generator=gen), self.c_dim).float()
        else:
            c = torch.rand(n, self.c_dim, generator=gen) * 2 - 1
        return z, c

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        return self.net(torch.cat([z, c], dim=1))


def evaluate(x: Tensor, min_share: float) -> tuple[int, float]:
    """(modes covered, share of high-quality samples) of generated points x (n, 2)."""
    dist = torch.cdist(x, CENTRES)  # (n, 25)
    d_min, nearest = dist.min(dim=1)
    good = d_min < 3 * STD
    counts = torch.bincount(nearest[good], minlength=len(CENTRES))
    return int((counts >= math.ceil(min_share * len(x))).sum()), float(good.float().mean())


def train(seed: int, *, beta: float, steps: int, batch: int, args) -> tuple[Generator, list[float]]:
    """Train one GAN (beta = 0: plain GAN); returns the generator and the MI estimates seen."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    g = Generator(args.z_dim, args.c_dim, args.width, args.code)
    d = mlp(2, args.width, 1)
    opt_g = torch.optim.Adam(g.parameters(), lr=args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=args.lr, betas=(0.5, 0.999))
    critic = ConcatCritic(args.c_dim, 2, hidden=(args.critic_width, args.critic_width))
    mi: nn.Module = MINE(critic, ma_rate=0.01, sampler=args.sampler) if args.ma else MILoss(critic, "dv", sampler=args.sampler)
    opt_t = torch.optim.Adam(mi.parameters(), lr=args.lr_critic)
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    history: list[float] = []
    for _ in range(steps):
        # discriminator step
        real = sample_data(batch, gen)
        with torch.no_grad():
            fake = g(*g.codes(batch, gen))
        loss_d = F.binary_cross_entropy_with_logits(d(real), ones) + F.binary_cross_entropy_with_logits(d(fake), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        # generator step (+ the MINE critic, which maximises the same bound)
        z, c = g.codes(batch, gen)
        fake = g(z, c)
        loss_g = F.binary_cross_entropy_with_logits(d(fake), ones)
        if beta > 0:
            estimate = mi(c[: args.mi_batch], fake[: args.mi_batch])
            loss_g = loss_g - beta * estimate
            history.append(float(estimate.detach()))
        opt_g.zero_grad()
        opt_t.zero_grad()
        loss_g.backward()
        opt_g.step()
        if beta > 0:
            for p in mi.parameters():  # loss_g holds -beta*I: the critic ascends I, scaled back to unit weight
                if p.grad is not None:
                    p.grad.div_(beta)
            opt_t.step()
    return g, history


def main() -> None:
    p = _common.parser(__doc__.split("\n\n")[0], seeds=3)
    p.add_argument("--beta", type=float, default=1.0, help="weight of the MI term in the generator loss")
    p.add_argument("--steps", type=int, default=None, help="training steps (default 8000; 60 with --quick)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-critic", type=float, default=5e-4)
    p.add_argument("--z-dim", type=int, default=2)
    p.add_argument("--c-dim", type=int, default=10, help="categories of the code (or its dimension if uniform)")
    p.add_argument("--code", choices=["categorical", "uniform"], default="categorical", help="distribution of the code c")
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--critic-width", type=int, default=64)
    p.add_argument("--no-ma", dest="ma", action="store_false", help="plain DV bound (MILoss) instead of MINE's moving average")
    p.add_argument("--sampler", choices=["all_pairs", "shuffle"], default="all_pairs", help="pairs the MI bound scores")
    p.add_argument("--mi-batch", type=int, default=64, help="rows of each generator batch the MI term is computed on")
    p.add_argument("--n-eval", type=int, default=2500)
    p.add_argument("--min-share", type=float, default=0.01, help="share of generated samples a mode needs to count")
    args = _common.parse(p)
    steps = args.steps or (60 if args.quick else 8000)
    batch = 64 if args.quick else args.batch
    seeds = [args.seed + i for i in range(1 if args.quick else args.seeds)]

    results: dict[str, dict[str, list[float]]] = {}
    samples: dict[str, Tensor] = {}
    for name, beta in (("GAN", 0.0), (f"GAN+MINE (beta={args.beta:g})", args.beta)):
        res = results.setdefault(name, {"modes": [], "hq": [], "mi": [], "sec": []})
        for seed in seeds:
            with _common.Timer() as t:
                g, history = train(seed, beta=beta, steps=steps, batch=batch, args=args)
            with torch.no_grad():
                x = g(*g.codes(args.n_eval, torch.Generator().manual_seed(10_000 + seed)))
            modes, hq = evaluate(x, args.min_share)
            res["modes"].append(modes)
            res["hq"].append(100 * hq)
            res["mi"].append(float(np.mean(history[-200:])) if history else float("nan"))
            res["sec"].append(t.seconds)
            print(f"{name:>22}  seed {seed}: {modes:2d} modes, {100 * hq:5.1f}% high quality ({t.seconds:.1f} s)", flush=True)
            if seed == seeds[0]:
                samples[name] = x

    rows = [
        [
            name,
            _common.mean_spread(r["modes"], "{:.1f}"),
            _common.mean_spread(r["hq"], "{:.1f}"),
            "-" if math.isnan(r["mi"][0]) else _common.mean_spread(r["mi"], "{:.2f}"),
            f"{np.mean(r['sec']):.0f}",
        ]
        for name, r in results.items()
    ]
    _common.print_table(
        f"25 Gaussians, {len(seeds)} seed(s), {steps} steps of batch {batch}, {args.n_eval} samples evaluated (mean ± sd)",
        ["model", "modes covered (of 25)", "high-quality samples %", "I(c; G) estimate, nats", "seconds per run"],
        rows,
    )
    print(_common.machine())

    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
    real = sample_data(args.n_eval, torch.Generator().manual_seed(0))
    for ax, (name, x) in zip(axes, samples.items()):
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.75", label="data")
        ax.scatter(x[:, 0], x[:, 1], s=2, c="tab:red" if "MINE" in name else "tab:blue", alpha=0.5, label="generated")
        ax.scatter(CENTRES[:, 0], CENTRES[:, 1], s=40, marker="+", c="k", linewidths=0.8, label="mode centres")
        r = results[name]
        ax.set_title(f"{name}\nseed {seeds[0]}: {r['modes'][0]} modes, {r['hq'][0]:.0f}% high quality", fontsize=9)
        ax.set_xlim(-6, 6)
        ax.set_ylim(-6, 6)
        ax.set_aspect("equal")
    axes[0].legend(loc="upper left", fontsize=7, markerscale=3)
    _common.save(fig, args.out, "gan_mode_collapse.png")


if __name__ == "__main__":
    main()
