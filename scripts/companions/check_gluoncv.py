"""The check a GluonCV companion measurement runs: `import gluoncv` with
MXNet, then a small real use. Prints one JSON line:
{"ok": true, "gluoncv": "0.10.5.post0", "output_shape": [1, 1000], ...}.

    python check_gluoncv.py [--shims "numpy.bool = bool; ..."]

  1. `gluoncv.data.transforms.presets.imagenet.transform_eval` turns a random
     300x400 RGB uint8 image into the (1, 3, 224, 224) network input
     (resize the short side to 256, center crop, normalize);
  2. `gluoncv.model_zoo.get_model('resnet18_v1b', pretrained=False)`,
     initialized, forwards it: the output must be (1, 1000) and finite
     (no download: pretrained=False);
  3. `gluoncv.utils.bbox.bbox_iou` of two 10x10 boxes that overlap in 5x5:
     25 / 175.

`--shims`: statements run after `import numpy` and before gluoncv imports
mxnet (the lock's numpy shims, as check_d2l.py). Exit status 0 when all
three hold, 1 otherwise (the JSON says which).
"""

import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shims", default="")
    args = ap.parse_args()
    t0 = time.time()
    import numpy

    for stmt in [s.strip() for s in args.shims.split(";") if s.strip()]:
        exec(stmt, {"numpy": numpy})
    from importlib.metadata import version

    import mxnet as mx
    import gluoncv
    from gluoncv.data.transforms.presets.imagenet import transform_eval

    mx.random.seed(0)
    image = mx.nd.random.uniform(0, 255, shape=(300, 400, 3)).astype("uint8")
    x = transform_eval(image)
    net = gluoncv.model_zoo.get_model("resnet18_v1b", pretrained=False)
    net.initialize()
    y = net(x).asnumpy()
    iou = float(gluoncv.utils.bbox.bbox_iou(
        numpy.array([[0.0, 0.0, 10.0, 10.0]]), numpy.array([[5.0, 5.0, 15.0, 15.0]]))[0, 0])
    checks = {
        "input_shape": list(x.shape) == [1, 3, 224, 224],
        "output_shape": list(y.shape) == [1, 1000],
        "finite": bool(numpy.isfinite(y).all()),
        "iou": abs(iou - 25 / 175) < 1e-6,
    }
    ok = all(checks.values())
    print(json.dumps({
        "ok": ok,
        "gluoncv": version("gluoncv"),
        # 0.10.5.post0's gluoncv/__init__.py says 0.11.0.
        "gluoncv_module_version": gluoncv.__version__,
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "iou": round(iou, 4),
        "failed": sorted(k for k, v in checks.items() if not v),
        "seconds": round(time.time() - t0, 1),
    }))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
