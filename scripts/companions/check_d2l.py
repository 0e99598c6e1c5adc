"""The check a companion measurement runs (and the e2e case `d2l` runs after
`cargo xtask install`): the book's concise linear regression with d2l's
MXNet edition, headless. Prints one JSON line:
{"ok": true, "d2l": "1.0.3", "w_error": [..], "b_error": .., "seconds": ..}.

    MPLBACKEND=Agg python check_d2l.py [--shims "numpy.bool = bool; ..."]

`--shims`: statements run after `import numpy` and before d2l imports
mxnet (the lock's numpy shims; `cargo xtask install`'s hook applies them
itself, so the e2e passes none). Exit status 0 when the learned weights are
within 0.5 of the true ones (untrained they are
2, -3.4 and 4.2 away: the model starts near zero), 1 otherwise (the JSON says why).
"""

import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shims", default="")
    args = ap.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    t0 = time.time()
    import numpy

    for stmt in [s.strip() for s in args.shims.split(";") if s.strip()]:
        exec(stmt, {"numpy": numpy})
    import d2l

    version = d2l.__version__ if hasattr(d2l, "__version__") else "?"
    from d2l import mxnet as d2l_mx
    from mxnet import autograd, gluon, init, np, npx

    npx.set_np()
    true_w, true_b = np.array([2, -3.4]), 4.2
    if hasattr(d2l_mx, "SyntheticRegressionData"):
        # d2l 1.x, chapter 3.5 "Concise Implementation of Linear Regression".
        data = d2l_mx.SyntheticRegressionData(w=true_w, b=true_b)
        model = d2l_mx.LinearRegression(lr=0.03)
        trainer = d2l_mx.Trainer(max_epochs=3)
        trainer.fit(model, data)
        w, b = model.get_w_b()
    else:
        # d2l 0.17.x, section 3.3 "Concise Implementation of Linear Regression".
        features, labels = d2l_mx.synthetic_data(true_w, true_b, 1000)
        data_iter = d2l_mx.load_array((features, labels), 10)
        net = gluon.nn.Sequential()
        net.add(gluon.nn.Dense(1))
        net.initialize(init.Normal(sigma=0.01))
        loss = gluon.loss.L2Loss()
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.03})
        for _ in range(3):
            for X, y in data_iter:
                with autograd.record():
                    l = loss(net(X), y)
                l.backward()
                trainer.step(10)
        w, b = net[0].weight.data(), net[0].bias.data()
    w_error = (true_w - w.reshape(true_w.shape)).asnumpy().tolist()
    b_error = float((true_b - b).asnumpy().reshape(-1)[0])
    ok = max(abs(x) for x in w_error) < 0.5 and abs(b_error) < 0.5
    print(json.dumps({
        "ok": ok,
        "d2l": version,
        "w_error": [round(x, 4) for x in w_error],
        "b_error": round(b_error, 4),
        "seconds": round(time.time() - t0, 1),
    }))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
