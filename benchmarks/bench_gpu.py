"""dltut's GPU path against its peers: ms per epoch of LR, MLP and LeNet, in one run.

    python benchmarks/bench_gpu.py [--device gpu] [--models logreg mlp lenet] [--epochs 3]

Three ways (four for LeNet) to train the same model with the same batch size on the same data,
all resident on the device:

* dltut: the tutorial model in PyTensor's JAX mode, fused (one compiled call per epoch here);
  for LeNet also with ``conv2d(method="xla")``, JAX's own convolution in place of im2col;
* pure JAX: a hand-written ``jax.lax.scan`` over the minibatches of an epoch, jitted: the
  practical limit for this work;
* PyTorch eager: a plain loop over minibatches with ``torch.nn.functional`` (optional).

Each is warmed up (compiled) with one epoch, then timed over ``--epochs`` epochs; the table
gives the median ms per epoch and the ratios. Peers that cannot be imported are left out. Not
part of the tests; ``--device cpu`` runs it here to check it.
"""

import argparse
import statistics
import timeit

import numpy

import bench_epochs  # the tutorial models as dltut builds them

# model -> (batch size, learning rate), the tutorials' settings
MODELS = {name: (batch_size, rate)
          for name, (_, batch_size, rate, _) in bench_epochs.MODELS.items()}


def time_epochs(run_epoch, epochs):
    run_epoch()  # compile, warm up
    times = []
    for _ in range(epochs):
        start = timeit.default_timer()
        run_epoch()
        times.append(timeit.default_timer() - start)
    return statistics.median(times) * 1000


# ----------------------------------------------------------------------------------------------
# pure JAX


def jax_epoch(name, device, floatX, train_x, train_y, tf32=False, conv=None):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", floatX == "float64")
    batch_size, learning_rate = MODELS[name]
    n_batches = len(train_x) // batch_size
    dev = jax.devices(device)[0]
    X = jax.device_put(jnp.asarray(train_x[: n_batches * batch_size], floatX).reshape(
        n_batches, batch_size, -1), dev)
    Y = jax.device_put(jnp.asarray(train_y[: n_batches * batch_size]).reshape(n_batches, -1), dev)
    params = jax.device_put(init_params(name, floatX), dev)
    forward = FORWARD[name]

    def cost(params, x, y):
        log_p = jax.nn.log_softmax(forward(params, x, jnp, jax))
        nll = -jnp.mean(log_p[jnp.arange(y.shape[0]), y])
        if name == "mlp":
            nll = nll + 0.0001 * sum(jnp.sum(params[w] ** 2) for w in ("W_hidden", "W_logreg"))
        return nll

    def step(params, batch):
        value, grads = jax.value_and_grad(cost)(params, *batch)
        return jax.tree_util.tree_map(lambda p, g: p - learning_rate * g, params, grads), value

    @jax.jit
    def epoch(params, X, Y):
        return jax.lax.scan(step, params, (X, Y))

    state = {"params": params}

    def run():
        state["params"], costs = epoch(state["params"], X, Y)
        costs.block_until_ready()

    return run


def init_params(name, floatX):
    rng = numpy.random.RandomState(1234)
    shapes = {
        "logreg": {"W_logreg": (784, 10), "b_logreg": (10,)},
        "mlp": {"W_hidden": (784, 500), "b_hidden": (500,), "W_logreg": (500, 10),
                "b_logreg": (10,)},
        "lenet": {"W_conv0": (20, 1, 5, 5), "b_conv0": (20,), "W_conv1": (50, 20, 5, 5),
                  "b_conv1": (50,), "W_hidden": (800, 500), "b_hidden": (500,),
                  "W_logreg": (500, 10), "b_logreg": (10,)},
    }[name]
    return {key: rng.uniform(-0.05, 0.05, shape).astype(floatX) for key, shape in shapes.items()}


def _logreg(p, x, jnp, jax):
    return x @ p["W_logreg"] + p["b_logreg"]


def _mlp(p, x, jnp, jax):
    return jnp.tanh(x @ p["W_hidden"] + p["b_hidden"]) @ p["W_logreg"] + p["b_logreg"]


def _conv_pool(x, W, b, jax, jnp):
    # a true convolution (flipped filters), as Theano's conv2d
    out = jax.lax.conv_general_dilated(x, W[:, :, ::-1, ::-1], (1, 1), "VALID")
    out = jax.lax.reduce_window(out, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    return jnp.tanh(out + b[None, :, None, None])


def _lenet(p, x, jnp, jax):
    h = _conv_pool(x.reshape(x.shape[0], 1, 28, 28), p["W_conv0"], p["b_conv0"], jax, jnp)
    h = _conv_pool(h, p["W_conv1"], p["b_conv1"], jax, jnp)
    h = jnp.tanh(h.reshape(h.shape[0], -1) @ p["W_hidden"] + p["b_hidden"])
    return h @ p["W_logreg"] + p["b_logreg"]


FORWARD = {"logreg": _logreg, "mlp": _mlp, "lenet": _lenet}


# ----------------------------------------------------------------------------------------------
# PyTorch eager


def torch_epoch(name, device, floatX, train_x, train_y, tf32=False, conv=None):
    import torch
    import torch.nn.functional as F

    torch.backends.cuda.matmul.allow_tf32 = tf32  # true float32 by default, like the other two
    torch.backends.cudnn.allow_tf32 = tf32
    dev = torch.device("cuda" if device == "gpu" else "cpu")
    dtype = getattr(torch, floatX)
    batch_size, learning_rate = MODELS[name]
    n_batches = len(train_x) // batch_size
    X = torch.as_tensor(train_x[: n_batches * batch_size], dtype=dtype, device=dev)
    Y = torch.as_tensor(train_y[: n_batches * batch_size], dtype=torch.long, device=dev)
    params = {k: torch.tensor(v, dtype=dtype, device=dev, requires_grad=True)
              for k, v in init_params(name, floatX).items()}

    def forward(x):
        p = params
        if name == "logreg":
            return x @ p["W_logreg"] + p["b_logreg"]
        if name == "mlp":
            return torch.tanh(x @ p["W_hidden"] + p["b_hidden"]) @ p["W_logreg"] + p["b_logreg"]
        h = x.reshape(-1, 1, 28, 28)
        for i in (0, 1):
            h = torch.tanh(F.max_pool2d(F.conv2d(h, p[f"W_conv{i}"].flip(2, 3)), 2)
                           + p[f"b_conv{i}"][None, :, None, None])
        h = torch.tanh(h.flatten(1) @ p["W_hidden"] + p["b_hidden"])
        return h @ p["W_logreg"] + p["b_logreg"]

    def run():
        for i in range(n_batches):
            x, y = X[i * batch_size:(i + 1) * batch_size], Y[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(forward(x), y)
            if name == "mlp":
                loss = loss + 0.0001 * ((params["W_hidden"] ** 2).sum()
                                        + (params["W_logreg"] ** 2).sum())
            grads = torch.autograd.grad(loss, list(params.values()))
            with torch.no_grad():
                for p, g in zip(params.values(), grads):
                    p -= learning_rate * g
        if dev.type == "cuda":
            torch.cuda.synchronize()

    run.forward = forward  # for a caller that also times inference (bench_cpu.py)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="gpu", choices=("gpu", "cpu"))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs (median reported)")
    parser.add_argument("--floatX", default="float32", choices=("float32", "float64"))
    parser.add_argument("--tf32", action="store_true",
                        help="let float32 matrix products use TensorFloat-32 (all three)")
    parser.add_argument("--train-size", type=int, default=50000, help="training images used")
    args = parser.parse_args()

    from dltut import data, engine

    engine.set_floatX(args.floatX)
    precision = "tensorfloat32" if args.tf32 else "highest"
    try:
        import jax

        jax.config.update("jax_default_matmul_precision", precision)
    except ImportError:
        pass
    (train_x, train_y), _, _ = data.load_data()
    train_x, train_y = train_x[: args.train_size], train_y[: args.train_size]
    peers = {"dltut": dltut_epoch, "dltut xla conv": dltut_epoch, "pure JAX": jax_epoch,
             "PyTorch eager": torch_epoch}
    table = {}
    for name in args.models:
        for peer, make in peers.items():
            if peer == "dltut xla conv" and name != "lenet":
                continue  # the same as "dltut": no convolution
            try:
                run = make(name, args.device, args.floatX, train_x, train_y, args.tf32,
                           conv="xla" if peer == "dltut xla conv" else None)
            except ImportError as error:
                print(f"{peer}: not available ({error})")
                continue
            table[name, peer] = time_epochs(run, args.epochs)
            print(f"{name:7} {peer:14} {table[name, peer]:10.1f} ms/epoch", flush=True)
    print(f"\n{'model':7} {'dltut ms':>9} {'xla conv':>9} {'pure JAX':>9} {'PyTorch':>9} "
          f"{'dltut/JAX':>10} {'xla/JAX':>8} {'torch/dltut':>12}")
    for name in args.models:
        ours, xla, jax_ms, torch_ms = (table.get((name, p)) for p in peers)
        ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "-"  # noqa: E731
        cell = lambda v: f"{v:9.1f}" if v else f"{'-':>9}"  # noqa: E731
        print(f"{name:7} {cell(ours)} {cell(xla)} {cell(jax_ms)} {cell(torch_ms)} "
              f"{ratio(ours, jax_ms):>10} {ratio(xla, jax_ms):>8} {ratio(torch_ms, ours):>12}")


def dltut_epoch(name, device, floatX, train_x, train_y, tf32=False, conv=None):
    """One fused epoch of the tutorial model, data on the device, as the scripts run it;
    ``conv`` is LeNet's ``conv2d`` method (None: the default, im2col)."""
    from dltut import data, engine, ops

    engine.set_device(device, tf32)
    if device == "cpu":
        engine.set_mode("jax")
    small = (train_x[:MODELS[name][0]], train_y[:MODELS[name][0]])  # validation is not timed
    datasets = [data.shared_dataset((train_x, train_y), "train"),
                data.shared_dataset(small, "valid"), data.shared_dataset(small, "test")]
    ops.set_default_method(conv)
    try:
        compiled = bench_epochs.build(name, datasets, fused=True)
    finally:
        ops.set_default_method(None)
    n = compiled.n_train_batches
    return lambda: compiled.train_minibatches(0, n)


if __name__ == "__main__":
    main()
