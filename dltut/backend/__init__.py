"""How the engine runs the tutorials' graphs fast; the tutorials never import it.

``compiled``: a span of minibatch updates as one compiled loop (JAX); ``batched``: a sweep's runs
trained as one program; ``tuning``: XLA's CPU settings measured per machine; ``jax_shapes``,
``xla_conv``: shapes and convolutions as JAX needs them; ``inc_rows``, ``mrg_op``: the C mode's ops.
"""
