"""The density-ratio critic beside today's default on non-Gaussian-copula tasks (a scratch probe).

Each (task, seed): n = 10,000 samples split 60/10/30 as ``estimate_mi`` splits them, normal scores fitted
on the training rows, ``fit_density_ratio`` on train/val, and the DV bound of the fitted critic on the
test rows (``score_blocks`` + ``summarise``, blocks of 1,024). Beside it: ``estimate_mi(x, y,
progress=False, seed=seed)`` on the same samples, the DV bound of the true log density ratio (the
oracle) on the same test rows, which separates the critic's error from the test sample's, and that
of the closed-form Gaussian critic fitted on the training rows.
Times are CPU seconds of this process (``time.process_time``) on one thread.

Run: ``PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/density_ratio_probe.py [tasks] [seeds] [--no-default]``;
``--costs`` times full fits and scoring at 1+1 ... 50+50 beside the default run instead.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from neuralmi import estimate_mi
from neuralmi._evaluate import score_blocks, summarise
from neuralmi.benchmark.distributions import StudentT
from neuralmi.critics import GaussianCritic
from neuralmi.data import NormalScores, split_indices
from neuralmi.density_ratio import fit_density_ratio

Sampler = Callable[[int, int], tuple[np.ndarray, np.ndarray]]
LOG_2PI = math.log(2 * math.pi)


def _paired(rng: np.random.Generator, n: int, d: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.standard_normal((n, d))
    return x, rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, d))


def student_t(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bivariate-pairs Student-t, 2+2, dof 1, rho 0.5 between paired coordinates."""
    rng = np.random.default_rng(seed)
    x, y = _paired(rng, n, 2, 0.5)
    scale = np.sqrt(1.0 / rng.chisquare(1.0, size=(n, 1)))
    return x * scale, y * scale


def x_shape(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal mixture of N(0, [[1, ±0.9], [±0.9, 1]]), 1+1."""
    rng = np.random.default_rng(seed)
    x, y = _paired(rng, n, 1, 0.9)
    return x, np.where(rng.random((n, 1)) < 0.5, -1.0, 1.0) * y


def squared(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Y = X^2 + N(0, 0.2^2), X ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1))
    return x, x**2 + 0.2 * rng.standard_normal((n, 1))


def bounded(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """X ~ U(0, 1)^2, Y = X + U(0, 0.3)^2."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))
    return x, x + 0.3 * rng.random((n, 2))


SPIRAL_RHO = math.sqrt(1 - math.exp(-2 * 3.0 / 8))


def _rotate(x: np.ndarray | Tensor, angle: np.ndarray | Tensor, lib: object) -> np.ndarray | Tensor:
    """Rotate coordinate pairs (0, 1), (2, 3), ... of x by angle (one per row)."""
    c, s = lib.cos(angle)[..., None], lib.sin(angle)[..., None]  # type: ignore[attr-defined]
    a, b = x[..., 0::2], x[..., 1::2]
    return lib.stack((c * a - s * b, s * a + c * b), -1).reshape(x.shape)  # type: ignore[attr-defined]


def spiral(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """8+8 Gaussian at 3 nats (x0, y), x = x0 rotated in coordinate pairs by ||x0|| radians (a diffeomorphism)."""
    rng = np.random.default_rng(seed)
    x0, y = _paired(rng, n, 8, SPIRAL_RHO)
    return _rotate(x0, np.linalg.norm(x0, axis=1), np), y  # type: ignore[return-value]


def _gauss_rho(dim: int, mi: float = 1.0) -> float:
    return math.sqrt(1 - math.exp(-2 * mi / dim))


def gaussian(dim: int) -> Sampler:
    """dim+dim Gaussian at 1 nat (equal correlation between paired coordinates)."""
    return lambda n, seed: _paired(np.random.default_rng(seed), n, dim, _gauss_rho(dim))


def _log_normal2(x: Tensor, y: Tensor, r: float) -> Tensor:
    v = 1 - r * r
    return -0.5 * (x * x - 2 * r * x * y + y * y) / v - LOG_2PI - 0.5 * math.log(v)


def _x_shape_ratio(x: Tensor, y: Tensor) -> Tensor:
    x, y = x[..., 0], y[..., 0]
    joint = torch.logaddexp(_log_normal2(x, y, 0.9), _log_normal2(x, y, -0.9)) - math.log(2)
    return joint + 0.5 * (x * x + y * y) + LOG_2PI


def _squared_log_py(y: Tensor) -> Tensor:
    """log p(y) of Y = X^2 + N(0, 0.04) by a 4001-point rule over x in [-7, 7]."""
    g = torch.linspace(-7, 7, 4001, dtype=y.dtype)
    terms = -0.5 * g * g - 0.5 * LOG_2PI - 0.5 * ((y[:, None] - g * g) / 0.2) ** 2 - math.log(0.2) - 0.5 * LOG_2PI
    return torch.logsumexp(terms, 1) + math.log(float(g[1] - g[0]))


def _squared_ratio(x: Tensor, y: Tensor) -> Tensor:
    cond = -0.5 * ((y[..., 0] - x[..., 0] ** 2) / 0.2) ** 2 - math.log(0.2) - 0.5 * LOG_2PI
    return cond - _squared_log_py(y[0, :, 0])[None, :]


def _bounded_ratio(x: Tensor, y: Tensor) -> Tensor:
    inside = ((y >= x) & (y <= x + 0.3)).all(-1)
    log_py = torch.log((torch.clamp(y, max=1.0) - torch.clamp(y - 0.3, min=0.0)) / 0.3).sum(-1)
    return torch.where(inside, 2 * math.log(1 / 0.3) - log_py, torch.full_like(log_py, -math.inf))


def _log_t(q: Tensor, dim: int, log_det: float, nu: float = 1.0) -> Tensor:
    const = math.lgamma((nu + dim) / 2) - math.lgamma(nu / 2) - dim / 2 * math.log(nu * math.pi) - 0.5 * log_det
    return const - (nu + dim) / 2 * torch.log1p(q / nu)


def _student_ratio(x: Tensor, y: Tensor, r: float = 0.5) -> Tensor:
    v = 1 - r * r
    joint = ((x * x).sum(-1) - 2 * r * (x * y).sum(-1) + (y * y).sum(-1)) / v
    return _log_t(joint, 4, 2 * math.log(v)) - _log_t((x * x).sum(-1), 2, 0.0) - _log_t((y * y).sum(-1), 2, 0.0)


def _gauss_ratio(x0: Tensor, y: Tensor, r: float) -> Tensor:
    v = 1 - r * r
    return (-0.5 * (y - r * x0) ** 2 / v - 0.5 * math.log(v) + 0.5 * y * y).sum(-1)


def _spiral_ratio(x: Tensor, y: Tensor) -> Tensor:
    return _gauss_ratio(_rotate(x, -torch.linalg.norm(x, dim=-1), torch), y, SPIRAL_RHO)  # type: ignore[arg-type]


def x_shape_truth(m: int = 2_000_000) -> float:
    """Monte Carlo E log p(x, y) / p(x) p(y) (standard error about 0.0005)."""
    x, y = x_shape(m, 123)
    return float(_x_shape_ratio(torch.from_numpy(x), torch.from_numpy(y)).mean())


def squared_truth() -> float:
    """h(Y) - h(Y|X) by quadrature on a y grid (p(y) itself by quadrature over x)."""
    ys = torch.linspace(-2.0, 50.0, 8001, dtype=torch.float64)
    log_p = _squared_log_py(ys)
    h_y = -float((log_p.exp() * log_p).sum() * (ys[1] - ys[0]))
    return h_y - 0.5 * math.log(2 * math.pi * math.e * 0.04)


TASKS: dict[str, tuple[Sampler, Callable[[], float], Callable[[Tensor, Tensor], Tensor]]] = {
    "student_t_2d_dof1": (student_t, lambda: StudentT(2, dof=1.0, rho=0.5).mutual_information, _student_ratio),
    "x_shape": (x_shape, x_shape_truth, _x_shape_ratio),
    "y_x_squared": (squared, squared_truth, _squared_ratio),
    "bounded_2d": (bounded, lambda: 2 * (0.15 - math.log(0.3)), _bounded_ratio),
    "spiral_8d_3nat": (spiral, lambda: 3.0, _spiral_ratio),
    **{
        f"gaussian_{d}d_1nat": (gaussian(d), lambda: 1.0, lambda x, y, d=d: _gauss_ratio(x, y, _gauss_rho(d)))  # type: ignore[misc]
        for d in (5, 8, 20)
    },
}
DEFAULT_TASKS = ("student_t_2d_dof1", "x_shape", "y_x_squared", "bounded_2d", "spiral_8d_3nat", "gaussian_5d_1nat")
"""Run when no tasks are named; the 8+8 and 20+20 Gaussians are there for costs."""


class Oracle(torch.nn.Module):
    """The true log density ratio as a critic on raw samples (float64 inside, float32 scores)."""

    def __init__(self, ratio: Callable[[Tensor, Tensor], Tensor]) -> None:
        super().__init__()
        self.ratio = ratio

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        n, m = len(x), len(y)
        return self.ratio(x[:, None, :].expand(n, m, -1), y[None].expand(n, m, -1)).float()


def held_out_dv(critic: torch.nn.Module, x: Tensor, y: Tensor) -> tuple[float, float]:
    """DV on held-out rows, all pairs within blocks of 1,024, with its jackknife standard error."""
    with torch.no_grad():
        return summarise(score_blocks(critic, x, y, 1024), "dv")


def probe(name: str, seed: int, default: bool) -> str:
    sampler, truth_of, ratio = TASKS[name]
    truth = truth_of()
    x, y = sampler(10_000, seed)
    tr, va, te = split_indices(len(x), (0.6, 0.1), seed)
    sx, sy = NormalScores.fit(x[tr]), NormalScores.fit(y[tr])

    def part(idx: np.ndarray) -> tuple[Tensor, Tensor]:
        return torch.from_numpy(sx(x[idx])), torch.from_numpy(sy(y[idx]))

    t0 = time.process_time()
    critic = fit_density_ratio(part(tr), part(va), seed=seed)
    t1 = time.process_time()
    val_dv, _ = held_out_dv(critic, *part(va))
    est, se = held_out_dv(critic, *part(te))
    t2 = time.process_time()
    oracle, _ = held_out_dv(Oracle(ratio), torch.from_numpy(x[te]), torch.from_numpy(y[te]))
    closed_form, _ = held_out_dv(GaussianCritic.fit(*part(tr)), *part(te))
    line = (
        f"{name:<18} s{seed} truth {truth:.3f} oracle {oracle:.3f} gaussian {closed_form:.3f} | ratio {est:.3f} ± {se:.3f} ({100 * (est - truth) / truth:+.1f}%) "
        f"val {val_dv:.3f} side {critic.side} kept {critic.kept_step}/{critic.steps} fit {t1 - t0:.1f}s score {t2 - t1:.2f}s"
    )
    if default:
        t3 = time.process_time()
        r = estimate_mi(x, y, progress=False, seed=seed)
        line += (
            f" | default {r.nats:.3f} ± {r.stderr:.3f} ({100 * (r.nats - truth) / truth:+.1f}%) "
            f"[{r.critic_kind}] {time.process_time() - t3:.0f}s"
        )
    return line


def costs(dims: tuple[int, ...] = (1, 2, 5, 8, 20, 50)) -> None:
    """CPU seconds of a full fit (no early stop) and of scoring 1,000 + 3,000 rows, beside today's default run."""
    from neuralmi.benchmark import get_task

    x, y = get_task("gaussian_5d_3nat").sample(0)
    t0 = time.process_time()
    estimate_mi(x, y, progress=False)
    print(f"default estimate_mi on gaussian_5d_3nat (docs: median 4.48 s on a quiet machine): {time.process_time() - t0:.1f}s")
    for d in dims:
        x, y = gaussian(d)(10_000, 0)
        tr, va, te = split_indices(len(x), (0.6, 0.1), 0)
        sx, sy = NormalScores.fit(x[tr]), NormalScores.fit(y[tr])
        train, val, test = ((torch.from_numpy(sx(x[i])), torch.from_numpy(sy(y[i]))) for i in (tr, va, te))
        t0 = time.process_time()
        critic = fit_density_ratio(train, val, seed=0, patience=10**9)
        t1 = time.process_time()
        held_out_dv(critic, *val), held_out_dv(critic, *test)
        t2 = time.process_time()
        print(
            f"{d}+{d}: fit {t1 - t0:.1f}s ({critic.steps} steps, {1000 * (t1 - t0) / critic.steps:.2f} ms/step), score {t2 - t1:.2f}s"
        )


def main() -> None:
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    if "--costs" in sys.argv:
        costs()
        return
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    names = args[0].split(",") if args else list(DEFAULT_TASKS)
    seeds = [int(s) for s in args[1].split(",")] if len(args) > 1 else [0, 1]
    for name in names:
        for seed in seeds:
            print(probe(name, seed, "--no-default" not in sys.argv), flush=True)


if __name__ == "__main__":
    main()
