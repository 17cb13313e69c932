"""Information bottleneck with MINE on handwritten digits (Belghazi et al. 2018, MINE, section 5.4).

A classifier on ``sklearn.datasets.load_digits`` (8x8 images, 10 classes) has a stochastic
encoder, Z = f(X) + sigma * eps with eps ~ N(0, I), and a linear head on Z. The IB objective is
cross-entropy + beta * I(X; Z). I(X; Z) is estimated by a ``MINE`` critic (Donsker-Varadhan
with the moving-average gradient) trained alternately: a critic step maximises the bound on
(x, z.detach()), then the encoder step minimises cross-entropy + beta * bound. As a second
estimator the script also runs the CLUB upper bound with a ``GaussianConditional`` q(z|x).

Compared over seeds (each seed fixes the train/test split and the initialisation), with the
same network, optimiser and number of steps:

* deterministic: Z = f(X), cross-entropy only;
* noisy, beta = 0: the stochastic encoder without the MI penalty (isolates the noise);
* MINE-IB and CLUB-IB: the stochastic encoder with the MI penalty.

At test time predictions average the softmax over 12 draws of the noise (as in Alemi et al.'s VIB).

    python examples/information_bottleneck.py            # full size, a few minutes on one CPU
    python examples/information_bottleneck.py --quick    # seconds (smoke test)
"""

from __future__ import annotations

import _common
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import Tensor, nn

from neuralmi import CLUB, MINE, SeparableCritic
from neuralmi.conditionals import GaussianConditional


def load(seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Digits scaled to [0, 1], split 70/30 (stratified) with ``seed``."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.3, stratify=y, random_state=seed)
    f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return f(x_tr), torch.tensor(y_tr), f(x_te), torch.tensor(y_te)


class Model(nn.Module):
    """Encoder 64 -> width -> width -> z_dim (+ Gaussian noise of std ``sigma``), linear head to 10 classes."""

    def __init__(self, width: int, z_dim: int, sigma: float) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, z_dim))
        self.head = nn.Linear(z_dim, 10)
        self.sigma = sigma

    def z(self, x: Tensor) -> Tensor:
        mean = self.encoder(x)
        return mean + self.sigma * torch.randn_like(mean) if self.sigma > 0 else mean

    @torch.no_grad()
    def predict(self, x: Tensor, draws: int = 12) -> Tensor:
        probs = torch.stack([F.softmax(self.head(self.z(x)), dim=1) for _ in range(draws if self.sigma > 0 else 1)])
        return probs.mean(0).argmax(1)


def run(variant: str, seed: int, args) -> tuple[float, float]:
    """Train one variant on one seed; returns (test error in %, last-epoch mean of the MI term in nats)."""
    x_tr, y_tr, x_te, y_te = load(seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = Model(args.width, args.z_dim, 0.0 if variant == "deterministic" else args.sigma)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    if variant == "MINE-IB":
        mi: nn.Module = MINE(SeparableCritic(64, args.z_dim, hidden=(args.critic_width,), embed_dim=32), ma_rate=0.01)
        opt_mi = torch.optim.Adam(mi.parameters(), lr=args.lr)
    elif variant == "CLUB-IB":
        mi = CLUB(GaussianConditional(64, args.z_dim, hidden=(args.critic_width,)))
        opt_mi = torch.optim.Adam(mi.parameters(), lr=args.lr)
    beta = args.beta_club if variant == "CLUB-IB" else args.beta
    penalised = variant in ("MINE-IB", "CLUB-IB")
    seen: list[float] = []
    n = len(x_tr)
    for _ in range(args.epochs):
        seen.clear()
        for idx in torch.randperm(n, generator=gen).split(args.batch):
            if len(idx) < 2:
                continue
            x, y = x_tr[idx], y_tr[idx]
            for _ in range(args.critic_steps if penalised else 0):  # estimator steps: tighten the bound on the current encoder
                with torch.no_grad():
                    z = model.z(x)
                est_loss = -mi(x, z) if variant == "MINE-IB" else mi.learning_loss(x, z)
                opt_mi.zero_grad()
                est_loss.backward()
                opt_mi.step()
            z = model.z(x)  # encoder step: task loss + beta * I(X; Z)
            loss = F.cross_entropy(model.head(z), y)
            if penalised:
                info = mi(x, z)
                loss = loss + beta * info
                seen.append(float(info.detach()))
            opt.zero_grad()
            loss.backward()
            opt.step()
    error = 100.0 * float((model.predict(x_te) != y_te).float().mean())
    return error, float(np.mean(seen)) if seen else float("nan")


def main() -> None:
    p = _common.parser(__doc__.split("\n\n")[0], seeds=5)
    p.add_argument("--beta", type=float, default=1e-2, help="weight of the MINE estimate of I(X;Z)")
    p.add_argument("--beta-club", type=float, default=1e-2, help="weight of the CLUB bound on I(X;Z)")
    p.add_argument("--sigma", type=float, default=1.0, help="std of the encoder noise")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 150; 3 with --quick)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--z-dim", type=int, default=32)
    p.add_argument("--critic-width", type=int, default=128)
    p.add_argument("--critic-steps", type=int, default=1, help="estimator steps per encoder step")
    args = _common.parse(p)
    args.epochs = args.epochs or (3 if args.quick else 150)
    seeds = [args.seed + i for i in range(1 if args.quick else args.seeds)]
    variants = ["deterministic", "noisy, beta = 0", "MINE-IB", "CLUB-IB"]

    errors: dict[str, list[float]] = {v: [] for v in variants}
    infos: dict[str, list[float]] = {v: [] for v in variants}
    secs: dict[str, list[float]] = {v: [] for v in variants}
    for seed in seeds:
        for v in variants:
            with _common.Timer() as t:
                err, info = run(v, seed, args)
            errors[v].append(err)
            infos[v].append(info)
            secs[v].append(t.seconds)
            print(f"seed {seed}  {v:>16}: test error {err:5.2f}%  (MI term {info:.3f} nats, {t.seconds:.1f} s)", flush=True)

    base = np.array(errors["deterministic"])
    rows = []
    for v in variants:
        diff = np.array(errors[v]) - base
        wins = f"{int((diff < 0).sum())}/{int((diff > 0).sum())}" if v != "deterministic" else "-"
        beta = {"MINE-IB": args.beta, "CLUB-IB": args.beta_club}.get(v, 0.0)
        info = "-" if np.isnan(infos[v][0]) else _common.mean_spread(infos[v], "{:.2f}")
        rows.append([v, f"{beta:g}", _common.mean_spread(errors[v], "{:.2f}"), wins, info, f"{np.mean(secs[v]):.0f}"])
    _common.print_table(
        f"Digits, {len(seeds)} seed(s), {args.epochs} epochs, test error in % (mean ± sd)",
        [
            "model",
            "beta",
            "test error %",
            "better/worse than deterministic (seeds)",
            "I(X;Z) term at the end, nats",
            "seconds per run",
        ],
        rows,
    )
    print(_common.machine())

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for i, v in enumerate(variants):
        ax.scatter(np.full(len(seeds), i) + np.linspace(-0.15, 0.15, len(seeds)), errors[v], s=18, label=None)
        ax.errorbar(
            i + 0.3, np.mean(errors[v]), yerr=np.std(errors[v], ddof=1) if len(seeds) > 1 else 0.0, fmt="o", c="k", capsize=3
        )
    ax.set_xticks(range(len(variants)), variants, fontsize=8)
    ax.set_ylabel("test error %")
    ax.set_title(f"Digits: IB with MINE / CLUB, {len(seeds)} seeds (dots: seeds; black: mean ± sd)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    _common.save(fig, args.out, "information_bottleneck.png")


if __name__ == "__main__":
    main()
