"""Estimators of a plan's latency compared on plans.py's measurements and a latency table (issue 15):
single-layer sums, FLOPs curves, and per-layer least-squares fits with leave-one-out errors.

    .venv/bin/python bench/studies/fit.py PLANS.json LATENCY_TABLE.json
"""
import json, sys, numpy as np
d = json.load(open(sys.argv[1])); rows = d["rows"]
tbl = json.load(open(sys.argv[2]))
layers = list(tbl["all_layers"])
fpc = tbl["flops_per_channel"]; ch = tbl["all_layers"]; bf = tbl["base_flops"]
y = np.array([r["saved_frac"] for r in rows])
F = np.array([r["flops_removed"] for r in rows])
R = np.array([[r["plan"].get(l, 0.0) for l in layers] for r in rows])
Fl = np.array([[fpc.get(l, 0) * round(ch[l] * r["plan"].get(l, 0.0)) / bf for l in layers] for r in rows])
uni = [i for i, r in enumerate(rows) if r["kind"] == "uniform"]
rnd = [i for i, r in enumerate(rows) if r["kind"] != "uniform"]
def report(name, pred, idx=rnd):
    # error on latency: predicted latency frac (1-saved) vs measured
    e = ((1 - pred[idx]) - (1 - y[idx])) / (1 - y[idx])
    print(f"{name:40s} mean|err| {np.mean(np.abs(e))*100:5.1f}%  max {np.max(np.abs(e))*100:5.1f}%  within10 {np.mean(np.abs(e)<=0.1)*100:.0f}%")
# M1: flops curve from uniform
xs = np.r_[0, F[uni]]; ys = np.r_[0, y[uni]]; o = np.argsort(xs)
report("flops curve (uniform plans)", np.interp(F, xs[o], ys[o]))
# M1b: linear in flops
a = np.linalg.lstsq(F[:, None], y, rcond=None)[0]; report("linear in flops (all, in-sample)", F * a[0])
# table additive
sv = tbl["saved"]; base = tbl["base_ms"]
def saved_at(l, r):
    pts = sorted((float(k), v) for k, v in sv.get(l, {}).items())
    if not pts or r <= 0: return 0.0
    x0, y0 = pts[-1]; return y0 * r / x0 if r >= x0 else np.interp(r, [0] + [p[0] for p in pts], [0] + [p[1] for p in pts])
add = np.array([sum(saved_at(l, v) for l, v in r["plan"].items()) / base for r in rows])
report("table additive", add)
# table additive scaled by uniform share curve
sh = y[uni] / add[uni]; xs2 = np.r_[add[uni]]; o2 = np.argsort(xs2)
report("table additive x share(sum)", add * np.interp(add, xs2[o2], sh[o2]))
# LOO CV regressions
def loo(X, name, ridge=1e-3, nonneg=False):
    pred = np.zeros(len(y))
    for i in range(len(y)):
        m = np.ones(len(y), bool); m[i] = False
        A = X[m]; b = y[m]
        if nonneg:
            from scipy.optimize import nnls
            A2 = np.vstack([A, np.sqrt(ridge) * np.eye(A.shape[1])]); b2 = np.r_[b, np.zeros(A.shape[1])]
            w = nnls(A2, b2)[0]
        else:
            w = np.linalg.solve(A.T @ A + ridge * np.eye(A.shape[1]), A.T @ b)
        pred[i] = X[i] @ w
    report(name + " (LOO)", pred, list(range(len(y))))
    return pred
loo(F[:, None], "linear flops")
loo(R, "per-layer ratio, ridge", 1e-2)
loo(R, "per-layer ratio, nnls", 1e-2, True)
loo(np.c_[Fl, F], "per-layer flops + total flops nnls", 1e-3, True)
loo(np.c_[R, F], "per-layer ratio + total flops nnls", 1e-2, True)
loo(np.c_[R, R**2], "ratio + ratio^2 nnls", 1e-2, True)
loo(np.c_[Fl.sum(1), F, F**2], "flops quad", 1e-4)
