"""The tutorials, one module each, named as the original files; each holds its model classes and
its entry function:

* ``logistic_sgd``: ``LogisticRegression``, ``sgd_optimization_mnist``
* ``mlp``: ``HiddenLayer``, ``MLP``, ``test_mlp``
* ``convolutional_mlp``: ``LeNetConvPoolLayer``, ``LeNet5``, ``evaluate_lenet5``
* ``dA``: ``dA``, ``test_dA`` (unsupervised: no early stopping, pictures instead of a model file)
* ``rbm``: ``RBM``, ``test_rbm`` (unsupervised, as dA; then samples from persistent Gibbs chains)

What they share (options, the training run, the best model) is in ``dltut.fitting``.
"""
