"""A compiled JAX-mode function of a minibatch index, run for a span of indices as one program
(``JaxLoop``), and such loops of several runs as one (``VmappedLoops``).

Why not PyTensor's ``scan``: PyTensor rewrites the graph of a scan at length, several times slower
than building the step alone, and again for each new length (docs/speed.md, "JAX mode"). Here
PyTensor builds one step, and a new length costs XLA's compile only.
"""

import copy

import numpy

from dltut.backend import modes, tuning


class JaxLoop:
    """``length`` calls of a compiled JAX-mode function ``step`` as one JAX program.

    ``step`` takes a minibatch index (and, for ``sequences``, one row of each per call) and
    returns its outputs; its shared variables are its state. The loop is a ``jax.lax.scan``
    over the indices ``first .. first + length - 1`` (each at most ``last_index`` if given)
    that carries the values ``step`` updates from call to call, and writes them back into the
    shared variables at the end: what ``length`` calls of ``step`` leave, the same arithmetic
    (the step's own compiled graph). It returns the first output of every call, stacked (a
    tuple of the first ``n_outputs``, each stacked, where that is more than one).

    Why not PyTensor's ``scan``: PyTensor rewrites the graph of a scan at length, several times
    slower than building the step alone, and again for each new length (docs/speed.md, "JAX
    mode"). Here PyTensor builds one update, and a new length costs XLA's compile only.
    ``examples`` are arrays shaped as ``sequences``, for ``compile_ahead``.

    On the CPU, XLA compiles the loop under the setting ``dltut.backend.tuning`` chooses for its
    step on this machine (measured at its first compile): each program its own, an error count's
    too (LeNet's forward sweep and its update prefer different settings).
    """

    def __init__(self, step, length, last_index=None, examples=(), n_outputs=1):
        import jax
        import jax.numpy as jnp

        jit_step = step.vm.jit_fn
        if not hasattr(jit_step, "lower"):  # PyTensor made some input static (a shape)
            raise TypeError(f"{step.name}: a step with static inputs cannot be looped in JAX")
        self.cells = step.vm.inputs  # the step's argument values, each in a one-item list
        mapping = step.maker.fgraph.update_mapping  # output index -> input index
        self.updated = sorted(mapping.values())
        n_explicit = 1 + len(examples)
        self.fixed = [k for k in range(n_explicit, len(self.cells)) if k not in mapping.values()]
        new_value = {k: o for o, k in mapping.items()}
        outputs_of_state = [new_value[k] for k in self.updated]
        updated, fixed, n_inputs = self.updated, self.fixed, len(self.cells)

        def run(first, sequences, state, others):
            def body(state, rows):
                args = [None] * n_inputs
                args[:n_explicit] = rows
                for k, value in zip(updated, state):
                    args[k] = value
                for k, value in zip(fixed, others):
                    args[k] = value
                outputs = jit_step(*args)
                stacked = outputs[0] if n_outputs == 1 else tuple(outputs[:n_outputs])
                return tuple(outputs[o] for o in outputs_of_state), stacked

            indices = first + jnp.arange(length)
            if last_index is not None:
                indices = jnp.minimum(indices, last_index)
            state, stacked = jax.lax.scan(body, state, (indices, *sequences))
            return stacked, state

        self.name, self.examples = f"{length} calls of {step.name}", tuple(examples)
        self.step, self.length, self.last_index = step, length, last_index
        self.n_outputs = n_outputs
        self.run = run  # the loop as a JAX function (``VmappedLoops`` maps it over runs)
        self._program = jax.jit(run)
        self._compiled = [None]  # XLA's program, once compile_ahead has made it (rebound share it)

    def _arguments(self, first, sequences):
        return (first, tuple(sequences), tuple(self.cells[k][0] for k in self.updated),
                tuple(self.cells[k][0] for k in self.fixed))

    def __call__(self, first=0, *sequences):
        arguments = self._arguments(first, sequences)
        if self._compiled[0] is None:
            self._compiled[0] = self._compile(arguments)
        stacked, state = self._compiled[0](*arguments)
        for k, value in zip(self.updated, state):
            self.cells[k][0] = value
        return stacked

    def compile_ahead(self):
        """Have XLA compile the loop now (for the shared values' current shapes), not at the
        first call (which then neither traces nor compiles); nothing runs."""
        if self._compiled[0] is None:
            self._compiled[0] = self._compile(self._arguments(0, self.examples))

    def _compile(self, arguments):
        """XLA's program for these arguments, under the XLA CPU setting chosen for the step on
        this machine (``dltut.backend.tuning``; on the GPU, XLA's defaults)."""
        options = None
        if modes.jax_platform() == "cpu":
            setting, _ = tuning.choose(self.program_key(), self._probe)
            options = tuning.options(setting)
        return self._program.lower(*arguments).compile(compiler_options=options)

    def program_key(self):
        """What ``dltut.backend.tuning`` remembers a setting by: the step's name and the shapes and dtypes
        of what it reads (not the loop's length)."""
        def shape(value, leading=0):
            dtype = getattr(value, "dtype", type(value).__name__)
            return f"{dtype}{list(numpy.shape(value))[leading:]}"

        values = [self.cells[k][0] for k in (*self.updated, *self.fixed)]
        rows = [shape(example, 1) for example in self.examples]  # one step's row of each
        return " ".join([self.step.name or "function", *rows, *map(shape, values)])

    def _probe(self, options):
        """A short loop of the same step, compiled under XLA ``options``: a function that runs
        it once from minibatch 0 and waits for it (the shared values are left as they are)."""
        import jax

        length = min(tuning.PROBE_LENGTH, self.length)
        probe = JaxLoop(self.step, length, self.last_index,
                        [example[:length] for example in self.examples])
        probe.cells = self.cells
        arguments = probe._arguments(0, probe.examples)
        compiled = probe._program.lower(*arguments).compile(compiler_options=options)
        return lambda: jax.block_until_ready(compiled(*arguments))

    def rebound(self, storages):
        """The same loop, compiled once for both, over other shared variables of the same types:
        ``storages`` maps ``id(variable.container.storage)`` of a variable the step reads to the
        storage of the variable to read (and update) instead."""
        loop = copy.copy(self)
        loop.cells = [storages.get(id(cell), cell) for cell in self.cells]
        return loop


class VmappedLoops:
    """Rebound copies of one ``JaxLoop`` (``loops``, each over its own run's shared values) as
    one JAX program: the loop ``jax.vmap``-ed over the runs, a leading run axis on every value
    that differs from run to run. It does what the loops one after the other do, but in batched
    products, which XLA may round otherwise (on the CPU, measured: in the last bits), and in one
    program where the loops would be many: what a GPU needs to be busy.
    """

    def __init__(self, loops):
        import jax

        head = loops[0]
        if any(len({id(loop.cells[k]) for loop in loops}) < len(loops) for k in head.updated):
            raise ValueError(f"{head.name}: the runs do not each update their own shared values")
        self.loops, self.name = loops, f"{head.name}, vmapped over {len(loops)} runs"
        self.per_run_fixed = [any(loop.cells[k] is not head.cells[k] for loop in loops)
                              for k in head.fixed]
        others = tuple(0 if per_run else None for per_run in self.per_run_fixed)
        self._program = jax.jit(jax.vmap(head.run, in_axes=(None, 0, 0, others),
                                         axis_size=len(loops)))
        self._compiled = None

    def _arguments(self, first, sequences):
        import jax.numpy as jnp

        head = self.loops[0]

        def values(k):
            return jnp.stack([loop.cells[k][0] for loop in self.loops])

        return (first, tuple(sequences), tuple(values(k) for k in head.updated),
                tuple(values(k) if per_run else head.cells[k][0]
                      for k, per_run in zip(head.fixed, self.per_run_fixed)))

    def __call__(self, first=0, *sequences):
        """``sequences`` are the loops' sequences stacked, runs first; the outputs likewise."""
        program = self._compiled or self._program
        stacked, state = program(*self._arguments(first, sequences))
        for k, values in zip(self.loops[0].updated, state):
            for loop, value in zip(self.loops, list(values)):
                loop.cells[k][0] = value
        return stacked

    def compile_ahead(self):
        """As ``JaxLoop.compile_ahead``, for the loops' sequences of their ``examples``."""
        if self._compiled is None:
            examples = [numpy.stack([example] * len(self.loops))
                        for example in self.loops[0].examples]
            self._compiled = self._program.lower(*self._arguments(0, examples)).compile()
