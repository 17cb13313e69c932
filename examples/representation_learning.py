"""Representation learning by maximising MI between two views (Deep InfoMax / contrastive style).

An encoder on ``sklearn.datasets.load_digits`` (8x8 images) is trained, without labels, to
maximise I(e(v1); e(v2)) between the codes of two random augmentations v1, v2 of the same
image (random shift by up to one pixel, random pixel masking, Gaussian pixel noise). The MI
is the ``"js"`` objective of Deep InfoMax (Hjelm et al. 2019) or the ``"infonce"`` bound of
CPC (van den Oord et al. 2018), computed by ``MILoss`` with a ``SeparableCritic`` on the
encoder outputs, scoring all pairs of a batch.

The representation is judged by a linear probe: a logistic regression (scikit-learn) fitted on
the codes of the clean training images and scored on the test images. It is compared with
the same encoder untrained (random weights), PCA of the same width, and the raw 64 pixels.

    python examples/representation_learning.py            # full size, a few minutes on one CPU
    python examples/representation_learning.py --quick    # seconds (smoke test)
"""

from __future__ import annotations

import _common
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import Tensor, nn

from neuralmi import MILoss, SeparableCritic


def augment(x: Tensor, gen: torch.Generator, *, mask: float = 0.2, noise: float = 0.1) -> Tensor:
    """Random view of images x (N, 8, 8): shift by -1..1 pixels (zero fill), drop pixels, add noise."""
    n = len(x)
    padded = nn.functional.pad(x, (1, 1, 1, 1))  # (N, 10, 10)
    dy, dx = torch.randint(0, 3, (2, n, 1), generator=gen)
    rows = (dy + torch.arange(8))[:, :, None]
    cols = (dx + torch.arange(8))[:, None, :]
    view = padded[torch.arange(n)[:, None, None], rows, cols]
    keep = (torch.rand(view.shape, generator=gen) > mask).float()
    return view * keep + noise * torch.randn(view.shape, generator=gen)


def encoder(width: int, dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, dim))


def probe(f_tr: np.ndarray, y_tr: np.ndarray, f_te: np.ndarray, y_te: np.ndarray) -> float:
    """Test accuracy (%) of a logistic regression on standardised features."""
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    clf.fit(f_tr, y_tr)
    return 100.0 * clf.score(f_te, y_te)


def train(bound: str, x_tr: Tensor, seed: int, args) -> tuple[nn.Module, list[float]]:
    """Train an encoder by maximising ``bound`` between two views; returns it and the bound per step."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    enc = encoder(args.width, args.dim)
    mi = MILoss(SeparableCritic(args.dim, args.dim, hidden=(args.width,), embed_dim=args.embed), bound)
    opt = torch.optim.Adam([*enc.parameters(), *mi.parameters()], lr=args.lr)
    curve: list[float] = []
    step = 0
    while step < args.steps:
        for idx in torch.randperm(len(x_tr), generator=gen).split(args.batch):
            if len(idx) < args.batch // 2 or step >= args.steps:
                continue
            x = x_tr[idx]
            value = mi(enc(augment(x, gen)), enc(augment(x, gen)))
            opt.zero_grad()
            (-value).backward()
            opt.step()
            curve.append(float(value.detach()))
            step += 1
    return enc.eval(), curve


def main() -> None:
    p = _common.parser(__doc__.split("\n\n")[0], seeds=3)
    p.add_argument("--steps", type=int, default=None, help="training steps per encoder (default 4000; 20 with --quick)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--width", type=int, default=256, help="hidden width of encoder and critic")
    p.add_argument("--dim", type=int, default=32, help="width of the representation (and of PCA)")
    p.add_argument("--embed", type=int, default=64, help="embedding width of the separable critic")
    args = _common.parse(p)
    args.steps = args.steps or (20 if args.quick else 4000)
    seeds = [args.seed + i for i in range(1 if args.quick else args.seeds)]
    bounds = ["js", "infonce"]

    x_all, y_all = load_digits(return_X_y=True)
    acc: dict[str, list[float]] = {}
    curves: dict[str, list[float]] = {}
    finals: dict[str, list[float]] = {}
    secs: dict[str, list[float]] = {}
    for seed in seeds:
        xa_tr, xa_te, y_tr, y_te = train_test_split(x_all / 16.0, y_all, test_size=0.3, stratify=y_all, random_state=seed)
        x_tr = torch.tensor(xa_tr, dtype=torch.float32).reshape(-1, 8, 8)
        x_te = torch.tensor(xa_te, dtype=torch.float32).reshape(-1, 8, 8)

        def features(enc: nn.Module) -> tuple[np.ndarray, np.ndarray]:
            with torch.no_grad():
                return enc(x_tr).numpy(), enc(x_te).numpy()  # noqa: B023

        result = {"raw pixels (64)": probe(xa_tr, y_tr, xa_te, y_te)}
        pca = PCA(args.dim, random_state=seed).fit(xa_tr)
        result[f"PCA ({args.dim})"] = probe(pca.transform(xa_tr), y_tr, pca.transform(xa_te), y_te)
        torch.manual_seed(seed)
        rand_enc = encoder(args.width, args.dim).eval()
        f_tr, f_te = features(rand_enc)
        result[f"random encoder ({args.dim})"] = probe(f_tr, y_tr, f_te, y_te)
        for bound in bounds:
            with _common.Timer() as t:
                enc, curve = train(bound, x_tr, seed, args)
            f_tr, f_te = features(enc)
            name = f"MI encoder, {bound} ({args.dim})"
            result[name] = probe(f_tr, y_tr, f_te, y_te)
            secs.setdefault(name, []).append(t.seconds)
            finals.setdefault(name, []).append(float(np.mean(curve[-50:])))
            if seed == seeds[0]:
                curves[bound] = curve
        for name, a in result.items():
            acc.setdefault(name, []).append(a)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.1f}%" for k, v in result.items()), flush=True)

    rows = [
        [
            name,
            _common.mean_spread(a, "{:.2f}"),
            _common.mean_spread(finals[name], "{:.2f}") if name in finals else "-",
            f"{np.mean(secs[name]):.0f}" if name in secs else "-",
        ]
        for name, a in acc.items()
    ]
    _common.print_table(
        f"Digits, linear-probe test accuracy, {len(seeds)} seed(s), {args.steps} steps of batch {args.batch} (mean ± sd)",
        ["representation (width)", "probe accuracy %", "bound at the end, train batches (js: not nats)", "training seconds"],
        rows,
    )
    print(_common.machine())

    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [1, 1.3]})
    for bound, curve in curves.items():
        smooth = np.convolve(curve, np.ones(25) / 25, mode="valid") if len(curve) > 50 else curve
        ax0.plot(smooth, label=f"{bound} (seed {seeds[0]})")
    ax0.axhline(np.log(args.batch), c="0.5", ls=":", lw=1, label=f"log N = {np.log(args.batch):.2f} (InfoNCE cap)")
    ax0.set_xlabel("step")
    ax0.set_ylabel("bound on training batches")
    ax0.legend(fontsize=7)
    names = list(acc)
    for i, name in enumerate(names):
        ax1.bar(i, np.mean(acc[name]), color="tab:red" if name.startswith("MI") else "0.6", alpha=0.8)
        ax1.scatter(np.full(len(acc[name]), i), acc[name], s=10, c="k", zorder=3)
    lo = min(min(a) for a in acc.values())
    ax1.set_ylim(max(0.0, lo - 3), 100)
    ax1.set_xticks(range(len(names)), [n.replace(", ", ",\n").replace(" (", "\n(") for n in names], fontsize=7)
    ax1.set_ylabel("linear probe test accuracy %")
    ax1.set_title("bars: mean over seeds; dots: seeds", fontsize=8)
    _common.save(fig, args.out, "representation_learning.png")


if __name__ == "__main__":
    main()
