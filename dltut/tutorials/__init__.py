"""The tutorials, one module each, named as the original files; each holds its model classes and
its entry function:

* ``logistic_sgd``: ``LogisticRegression``, ``sgd_optimization_mnist``
* ``mlp``: ``HiddenLayer``, ``MLP``, ``test_mlp``
* ``convolutional_mlp``: ``LeNetConvPoolLayer``, ``LeNet5``, ``evaluate_lenet5``
* ``dA``: ``dA``, ``test_dA`` (unsupervised: no early stopping, pictures instead of a model file)
* ``SdA``: ``SdA``, ``test_SdA`` (dAs pretrained layer by layer, then fine-tuned with early stopping)

What they share (options, the training run, the best model) is in ``dltut.fitting``; the
unsupervised epochs (with checkpoints) are ``dltut.epochs``.
"""
