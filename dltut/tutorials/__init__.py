"""The tutorials, one module each, named as the original files; each holds its model classes and
its entry function:

* ``logistic_sgd``: ``LogisticRegression``, ``sgd_optimization_mnist``
* ``mlp``: ``HiddenLayer``, ``MLP``, ``test_mlp``
* ``convolutional_mlp``: ``LeNetConvPoolLayer``, ``LeNet5``, ``evaluate_lenet5``
* ``dA``: ``dA``, ``test_dA`` (unsupervised: no early stopping, pictures instead of a model file)
* ``SdA``: ``SdA``, ``test_SdA`` (dAs pretrained layer by layer, then fine-tuned with early stopping)
* ``logistic_cg``: ``LogisticRegression`` on one flat ``theta``, ``cg_optimization_mnist``
  (``scipy.optimize.fmin_cg`` instead of SGD: no early stopping, no model file)
* ``cA``: ``cA``, ``test_cA`` (the contractive autoencoder; unsupervised, like ``dA``)
* ``hmc``: ``HMC_sampler``, ``sampler_on_nd_gaussian``, ``test_hmc`` (a sampler: no data, no
  training)
* ``rbm``: ``RBM``, ``test_rbm`` (unsupervised, as dA; then samples from persistent Gibbs chains)
* ``rnnslu``: ``RNNSLU``, ``atisfold``, ``contextwin``, ``main`` (slot filling on ATIS: an Elman
  network over word embeddings, one SGD step a sentence, early stopping on conlleval's F1)

What they share (options, the training run, the best model) is in ``dltut.fitting``; the
unsupervised epochs (with checkpoints) are ``dltut.epochs``.
"""
