"""Conditional MI I(X;Y|Z): three designs compared on the ``cmi`` tasks, and the chain's coverage of 0 over seeds.

Run: ``PYTHONPATH=src python benchmarks/cmi.py compare [--tasks ...] [--seeds 2] [--n 5000]`` and
``PYTHONPATH=src python benchmarks/cmi.py coverage [--tasks ...] [--seeds 10] [--n N] [--json FILE]``
(``--n`` defaults to each task's own n); ``PYTHONPATH=src python benchmarks/cmi.py table FILE ...``
prints the coverage table of saved records.

``coverage`` runs :func:`neuralmi.estimate_cmi` with its defaults over seeds (data seed 1000 + s,
or ``--first-data-seed`` + s, estimator seed s) and records, beside the reported result, the raw held-out mean log ratio (the
number behind a "not detected" 0) and, for a Gaussian law, the true log ratio
(:meth:`~neuralmi.benchmark.cmi.JointGaussian.log_ratio`) averaged over the same test rows: the
split's own value of I(X;Y|Z). Their difference is the fit error; the rest of the estimate's
deviation from the truth is the sampling of the test rows, which the reported standard error counts.

The designs, each on the same split of the same samples (prepare's 60/10/30 by seeded index), each
number on the test split only:

- ``a``: :func:`neuralmi.estimate_cmi`, two mixture density networks q(y|z) and q(y|x,z) (the
  second started from the first), the mean of ``log q(y|x,z) - log q(y|z)``, paired error bar.
- ``b``: a DV critic T(x, y, z) (an MLP on the three) whose negatives (x_i, y_j, z_i) take y_j from
  one of the k = 5 nearest neighbours of z_i in z (local permutation, as CCMI / CMIknn); the held-out
  DV with all k neighbours as negatives, delete-one jackknife error bar.
- ``c``: the chain rule I(X; (Y, Z)) - I(X; Z), each by ``estimate_mi``'s own fit stage (every
  candidate critic, the one-standard-error selection) on the same split; the jackknife of the
  difference of the two held-out DV values, row by row (a paired error bar).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from neuralmi import EstimatorConfig, estimate_cmi
from neuralmi._evaluate import dv_like, score_blocks
from neuralmi.benchmark.cmi import CMI_TASKS, JointGaussian
from neuralmi.candidates import select
from neuralmi.cmi import prepare_cmi
from neuralmi.critics import mlp
from neuralmi.estimate import fit, prepare

COVERAGE = tuple(CMI_TASKS)
COMPARE = ("cmi_gaussian_1d_0.5nat", "cmi_gaussian_5d_2nat", "cmi_chain_1d", "cmi_collider_1d", "cmi_nonlinear_chain_1d")
NEIGHBOURS = 5

Estimate = tuple[float, float, float, float]
"""(nats, standard error, 95% interval low, high)."""


def design_a(x: np.ndarray, y: np.ndarray, z: np.ndarray, seed: int) -> Estimate:
    """estimate_cmi with its defaults."""
    r = estimate_cmi(x, y, z, seed=seed)
    return r.nats, r.stderr, *r.ci


def _neighbours(z: Tensor, k: int) -> Tensor:
    """Indices (n, k) of each row's k nearest other rows in z."""
    _, idx = cKDTree(z.double().numpy()).query(z.double().numpy(), k + 1)
    return torch.from_numpy(np.asarray(idx)[:, 1:]).long()


def _dv_local(critic: torch.nn.Module, part: tuple[Tensor, Tensor, Tensor], nbr: Tensor) -> tuple[float, np.ndarray]:
    """Held-out DV with every row's k neighbours as negatives, and its delete-one values."""
    x, y, z = part
    with torch.no_grad():
        pos = critic(torch.cat((x, y, z), 1)).squeeze(1).double()
        k = nbr.shape[1]
        neg = critic(torch.cat((x.repeat_interleave(k, 0), y[nbr.flatten()], z.repeat_interleave(k, 0)), 1)).double()
    neg = neg.view(len(x), k).numpy()
    shift = neg.max()
    rows = np.exp(neg - shift).sum(1)
    n, total = len(x), rows.sum()
    value = pos.mean().item() - (math.log(total / (n * k)) + shift)
    loo = (pos.sum().item() - pos.numpy()) / (n - 1) - (np.log((total - rows) / ((n - 1) * k)) + shift)
    return value, loo


def design_b(x: np.ndarray, y: np.ndarray, z: np.ndarray, seed: int, max_steps: int = 2000) -> Estimate:
    """A DV critic on (x, y, z) trained against locally permuted negatives, stopped on validation DV."""
    data = prepare_cmi(x, y, z, EstimatorConfig(seed=seed))
    train, val, test = (data.part(name) for name in ("train", "val", "test"))
    nbr = {name: _neighbours(part[2], NEIGHBOURS) for name, part in (("train", train), ("val", val), ("test", test))}
    torch.manual_seed(seed)
    critic = mlp(sum(t.shape[1] for t in train), (256, 256), 1, "elu")
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    best, best_state, since = _dv_local(critic, val, nbr["val"])[0], copy.deepcopy(critic.state_dict()), 0
    (xt, yt, zt), n = train, len(train[0])
    for step in range(1, max_steps + 1):
        i = torch.randint(n, (256,), generator=generator)
        j = nbr["train"][i, torch.randint(NEIGHBOURS, (256,), generator=generator)]
        pos = critic(torch.cat((xt[i], yt[i], zt[i]), 1)).squeeze(1)
        neg = critic(torch.cat((xt[i], yt[j], zt[i]), 1)).squeeze(1)
        loss = -(pos.mean() - (torch.logsumexp(neg, 0) - math.log(len(neg))))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0:
            value = _dv_local(critic, val, nbr["val"])[0]
            best, best_state, since = (
                (value, copy.deepcopy(critic.state_dict()), 0) if value > best else (best, best_state, since + 1)
            )
            if since >= 5:
                break
    critic.load_state_dict(best_state)
    value, loo = _dv_local(critic, test, nbr["test"])
    return _normal(value, _jackknife(loo))


def _normal(value: float, stderr: float) -> Estimate:
    return value, stderr, value - 1.959964 * stderr, value + 1.959964 * stderr


def _jackknife(loo: np.ndarray) -> float:
    n = len(loo)
    return math.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum())


def design_c(x: np.ndarray, y: np.ndarray, z: np.ndarray, seed: int) -> Estimate:
    """I(X; (Y, Z)) - I(X; Z) by estimate_mi's fit stage on one split; the jackknife of the row-wise difference."""
    cfg = EstimatorConfig(seed=seed)
    n = len(x)
    values, loos = [], []
    for other in (np.hstack((y.reshape(n, -1), z.reshape(n, -1))), z):
        data = prepare(x, other, cfg)
        kept, _ = select(fit(data, cfg))
        value, loo = dv_like(score_blocks(kept.critic, *data.test, cfg.eval_batch_size), cfg.report_bound)
        values.append(value)
        loos.append(loo)
    return _normal(values[0] - values[1], _jackknife(loos[0] - loos[1]))


DESIGNS = {"a": design_a, "b": design_b, "c": design_c}


def _run(task: str, design: str, seed: int, n: int) -> dict[str, Any]:
    x, y, z = CMI_TASKS[task].sample(1000 + seed, n)
    start = time.perf_counter()
    nats, se, lo, hi = DESIGNS[design](x, y, z, seed)
    truth = CMI_TASKS[task].truth
    record = {"task": task, "design": design, "seed": seed, "n": n, "truth": truth, "nats": nats, "stderr": se}
    record |= {"ci": [lo, hi], "seconds": time.perf_counter() - start, "covered": bool(lo <= truth <= hi)}
    print(f"  {task} / {design} / seed {seed}: {nats:.4f} ± {se:.4f} (truth {truth:.4f}), {record['seconds']:.0f} s", flush=True)
    return record


def _coverage_run(task: str, seed: int, n: int | None, first_data_seed: int = 1000) -> dict[str, Any]:
    """One default estimate_cmi run with its raw held-out value, the test rows' own truth (Gaussian laws) and the fit error."""
    spec = CMI_TASKS[task]
    x, y, z = spec.sample(first_data_seed + seed, n)
    start = time.perf_counter()
    r = estimate_cmi(x, y, z, seed=seed)
    seconds = time.perf_counter() - start
    cfg = EstimatorConfig(seed=seed)
    values = r.critic.ratio(*prepare_cmi(x, y, z, cfg).part("test")).double().numpy()
    raw, raw_se = float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))
    truth, z95 = spec.truth, 1.959964
    record = {"task": task, "seed": seed, "n": len(x), "truth": truth, "nats": r.nats, "stderr": r.stderr, "ci": list(r.ci)}
    record |= {"covered": bool(r.ci[0] <= truth <= r.ci[1]), "detected": r.detected, "raw": raw, "raw_stderr": raw_se}
    record |= {"raw_covered": bool(abs(raw - truth) <= z95 * raw_se), "seconds": seconds, "test_truth": None}
    law = spec.distribution
    if isinstance(law, JointGaussian):
        test = cfg.split_rows(len(x))[2]
        record["test_truth"] = float(law.log_ratio(x[test], y[test], z[test]).mean())
    print(
        f"  {task} / seed {seed}: {r.nats:.4f} ± {r.stderr:.4f} (raw {raw:.4f}, test rows' truth {record['test_truth']}, "
        f"truth {truth:.4f}), {seconds:.0f} s",
        flush=True,
    )
    return record


def _mean_se(values: list[float], digits: int = 4, unit: str = "") -> str:
    """``mean ± standard error`` over seeds."""
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):+.{digits}f}{unit} ± {se:.{digits}f}{unit}"


def _coverage_table(records: list[dict[str, Any]]) -> None:
    print(
        "| task | truth | seeds | mean estimate | mean rel. error ± SE | sd over seeds | mean stderr | "
        "95% CI covers truth | raw held-out CI covers truth | fit error (raw - test rows' truth) ± SE | s/run |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for task in dict.fromkeys(r["task"] for r in records):
        rs = [r for r in records if r["task"] == task]
        truth, est = rs[0]["truth"], [r["nats"] for r in rs]
        rel = _mean_se([(e - truth) / truth * 100 for e in est], 1, "%") if truth > 0 else "-"
        spread = statistics.stdev(est) if len(est) > 1 else 0.0
        fits = [r["raw"] - r["test_truth"] for r in rs if r["test_truth"] is not None]
        fit = _mean_se(fits) if fits else "-"
        print(
            f"| {task} | {truth:.4f} | {len(rs)} | {statistics.mean(est):.4f} | {rel} | {spread:.4f} | "
            f"{statistics.mean(r['stderr'] for r in rs):.4f} | {sum(r['covered'] for r in rs)}/{len(rs)} | "
            f"{sum(r['raw_covered'] for r in rs)}/{len(rs)} | {fit} | {statistics.median(r['seconds'] for r in rs):.0f} |"
        )


def _table(records: list[dict[str, Any]]) -> None:
    print("| task | truth | design | mean estimate | spread | mean stderr | rel. error | 95% CI covers truth | s/run |")
    print("|---|---|---|---|---|---|---|---|---|")
    keys = dict.fromkeys((r["task"], r["design"]) for r in records)
    for task, design in keys:
        rs = [r for r in records if r["task"] == task and r["design"] == design]
        est = [r["nats"] for r in rs]
        truth = rs[0]["truth"]
        spread = statistics.stdev(est) if len(est) > 1 else 0.0
        rel = f"{100 * abs(statistics.mean(est) - truth) / truth:.1f}%" if truth > 0 else "-"
        covered = f"{sum(r['covered'] for r in rs)}/{len(rs)}"
        se = statistics.mean(r["stderr"] for r in rs)
        secs = statistics.median(r["seconds"] for r in rs)
        print(
            f"| {task} | {truth:.4f} | {design} | {statistics.mean(est):.4f} | {spread:.4f} | {se:.4f} | {rel} | {covered} | {secs:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["compare", "coverage", "table"])
    parser.add_argument("files", nargs="*", help="table: JSON record files written by coverage --json")
    parser.add_argument("--tasks", nargs="*", help=f"default: {COMPARE} (compare), every cmi task (coverage)")
    parser.add_argument("--designs", nargs="*", default=list(DESIGNS), choices=list(DESIGNS))
    parser.add_argument("--seeds", type=int, default=None, help="default 2 (compare), 10 (coverage)")
    parser.add_argument("--n", type=int, default=None, help="default 5000 (compare), each task's own n (coverage)")
    parser.add_argument("--json", help="also write the per-run records here")
    parser.add_argument("--first-data-seed", type=int, default=1000, help="coverage: data seed of seed 0 (bench uses 0)")
    args = parser.parse_args()
    if args.mode == "table":
        _coverage_table([r for name in args.files for r in json.loads(Path(name).read_text())])
        return
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    if args.mode == "compare":
        tasks, seeds, n = args.tasks or list(COMPARE), args.seeds or 2, args.n or 5000
        records = [_run(task, design, seed, n) for task in tasks for seed in range(seeds) for design in args.designs]
        _table(records)
    else:
        tasks, seeds = args.tasks or list(COVERAGE), args.seeds or 10
        records = [_coverage_run(task, seed, args.n, args.first_data_seed) for task in tasks for seed in range(seeds)]
        _coverage_table(records)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
