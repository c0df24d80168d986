"""Parameter documentation shared by both estimators' docstrings."""

COMMON_PARAMETERS = r"""
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.

    activation : {'identity', 'logistic', 'tanh', 'relu', 'leaky_relu', 'elu', 'gelu', 'silu', 'softplus'}, default='relu'
        Activation function of the hidden layers: ``f(x) = x``,
        ``1 / (1 + exp(-x))``, ``tanh(x)``, ``max(0, x)`` (scikit-learn's
        four), and, fastbp only, leaky ReLU (``x`` or ``0.01 x``), ELU
        (``x`` or ``exp(x) - 1``), GELU (``x Phi(x)``, exact), SiLU
        (``x / (1 + exp(-x))``) and softplus (``log(1 + exp(x))``).

    solver : {'lbfgs', 'sgd', 'adam', 'adamw', 'rmsprop'}, default='adam'
        Weight optimiser: SciPy's L-BFGS-B on the full-batch loss (whose loss
        and gradient are computed by the compiled core), mini-batch SGD, Adam,
        and, fastbp only, AdamW (``alpha`` becomes a decoupled weight decay:
        each step shrinks the weights by ``learning_rate * alpha``) and
        RMSprop (decay rate ``beta_2``).

    alpha : float, default=0.0001
        Strength of the L2 penalty, divided by the sample-weight sum of the batch.

    batch_size : int or 'auto', default='auto'
        Mini-batch size of the stochastic solvers; 'auto' is ``min(200, n_samples)``.

    learning_rate : {'constant', 'invscaling', 'adaptive', 'cosine', 'step', 'exponential', 'one_cycle'}, default='constant'
        Learning-rate schedule: constant; 'invscaling' divides it by
        ``(t + 1) ** power_t`` after each epoch, t the number of samples seen
        (SGD only, as in scikit-learn); 'adaptive' divides it by 5 each time
        ``n_iter_no_change`` epochs fail to improve by ``tol`` (every solver in
        fastbp, SGD only in scikit-learn).  fastbp adds, for every stochastic
        solver: 'cosine' annealing over ``max_iter`` epochs, 'step'
        (times ``lr_decay`` every ``lr_step_size`` epochs), 'exponential'
        (times ``lr_decay`` each epoch) and 'one_cycle'; at their defaults
        each trains about as far as 'constant' within ``max_iter`` epochs.  These count the
        epochs of each ``fit`` from 0; successive ``partial_fit`` calls (one
        epoch each) walk through them.

    learning_rate_init : float, default=0.001
        Initial learning rate (stochastic solvers).

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.

    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (lbfgs).

    shuffle : bool, default=True
        Shuffle the samples every epoch (stochastic solvers).

    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, the shuffles and the validation split.
        The same seed gives the same draws as scikit-learn's MLP.

    tol : float, default=1e-4
        Improvement of the loss or validation score below which an epoch counts
        as no progress.

    verbose : bool, default=False
        Print the loss (and validation score) after each epoch.

    warm_start : bool, default=False
        Start ``fit`` from the previous solution instead of new random weights.

    momentum : float, default=0.9
        Momentum of ``solver='sgd'``, in [0, 1].

    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with ``solver='sgd'``.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stop when its
        score has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
        keep the weights of the best epoch (stochastic solvers).

    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping, in [0, 1).

    beta_1 : float, default=0.9
        Decay rate of Adam's first-moment estimate, in [0, 1).

    beta_2 : float, default=0.999
        Decay rate of Adam's second-moment estimate, in [0, 1).

    epsilon : float, default=1e-8
        Adam's numerical-stability term.

    n_iter_no_change : int, default=10
        Number of epochs without progress that stops training (stochastic solvers).

    max_fun : int, default=15000
        Maximum number of loss evaluations of ``solver='lbfgs'``.

    device : {'cpu', 'cuda', 'auto'}, default='cpu'
        Where to train (fastbp only).  'cuda' trains on an NVIDIA GPU with the
        data resident on the device and raises a ``RuntimeError`` at ``fit``
        when no usable GPU is found; 'auto' takes the GPU when there is one.
        Fitted attributes are NumPy arrays on the host either way, so a model
        trained on a GPU predicts, pickles and clones anywhere (``predict``
        uses the GPU when one is available, the CPU otherwise).  Needs
        ``pip install 'fastbp[cuda]'``.

    init : {'glorot', 'he'}, default='glorot'
        Weight initialisation: scikit-learn's Glorot-uniform, or He-uniform
        (:math:`U(\pm\sqrt{6 / n_{in}})`) for ReLU-like activations (fastbp only).

    dropout : float or sequence of float, default=0.0
        Inverted-dropout rate of every hidden layer, or one rate per hidden
        layer, in [0, 1); off at prediction.  The masks come from a hash of
        ``random_state``, the mini-batch step, the sample and the unit, so a
        fixed ``random_state`` reproduces them, on the CPU and on CUDA alike
        (fastbp only; stochastic solvers).

    l1 : float, default=0.0
        Strength of an L1 penalty on the weights, scaled like ``alpha``
        (fastbp only).

    max_grad_norm : float or None, default=None
        Clip the global norm of each mini-batch gradient to this value (fastbp only).

    batch_norm : bool, default=False
        Normalise every hidden layer's pre-activations with the statistics of
        the mini-batch, then scale and shift them by learned per-unit
        parameters (Ioffe & Szegedy, 2015); the layer's intercept is then
        unused.  Prediction normalises with running statistics kept during
        training.  The statistics are weighted by ``sample_weight`` (a weight
        of 2 counts a sample twice, as everywhere in scikit-learn); a
        mini-batch of one row leaves the running statistics unchanged.  With
        ``solver='lbfgs'`` the statistics are those of the whole training set
        (fastbp only).

    batch_norm_momentum : float, default=0.1
        Weight of each mini-batch's statistics in the running ones,
        :math:`r \leftarrow (1 - \rho) r + \rho b`, in [0, 1] (PyTorch's
        convention; the running variance follows the batch variance as it
        is, as in Keras; fastbp only).

    batch_norm_epsilon : float, default=1e-5
        Added to the variance before its square root, > 0 (fastbp only).

    lr_decay : float or None, default=None
        Factor of the 'step' and 'exponential' schedules, in (0, 1] (fastbp
        only).  None gives each its own default: 0.5 for 'step', and for
        'exponential' the factor that leaves 1/5 of the rate after
        ``max_iter`` epochs, :math:`0.2^{1/\text{max\_iter}}` (halving the
        rate every epoch would stop training within a few dozen epochs).

    lr_step_size : int or None, default=None
        Epochs between two decays of the 'step' schedule (fastbp only); None
        is ``max(1, max_iter // 4)``.

    warmup_epochs : int, default=0
        Ramp the learning rate linearly up over this many first epochs of each
        fit, with any schedule (fastbp only).

    early_stopping_metric : {'score', 'loss'}, default='score'
        What early stopping watches on the validation set: the score
        (scikit-learn's choice) or the loss (fastbp only).

    restore_best_weights : bool, default=False
        At the end of a fit, go back to the weights of the best epoch: best
        validation score (or loss) when validating, else lowest training loss.
        Early stopping always restores them, as in scikit-learn (fastbp only).

    progress_bar : bool, default=False
        Show a tqdm progress bar over the epochs (needs ``tqdm``; fastbp only).

    callbacks : list or None, default=None
        Objects with ``on_epoch_end(estimator, epoch, logs) -> bool``, called
        after each epoch; returning True stops training.  ``logs`` has
        ``loss``, ``learning_rate`` and, when validating,
        ``validation_score`` and ``validation_loss``.  See
        :mod:`fastbp.estimators._callbacks` for examples (fastbp only).

    init_from : estimator or None, default=None
        Transfer learning (fastbp only): a fitted ``BackpropClassifier``,
        ``BackpropRegressor``, ``MLPClassifier`` or ``MLPRegressor`` whose
        hidden layers (weights, biases and, with batch normalisation, its
        scales, shifts and running statistics) start every new fit; the
        output layer is new, drawn from ``random_state`` and sized for this
        task (another number of classes, or regression from a classifier).
        ``hidden_layer_sizes`` must begin with the source's, on the same
        number of features, with the same ``activation`` and
        ``batch_norm``.  ``clone`` (and so ``GridSearchCV``) clones an
        estimator parameter unfitted: wrap the source as
        ``sklearn.frozen.FrozenEstimator(source)`` to keep its weights through
        a sweep; an unfitted source is a ``ValueError`` at ``fit``.  The
        source is part of the model's parameters, so it is pickled with it.

    frozen_layers : int, default=0
        Number of layers, counted from the input side, that do not train
        (fastbp only): their weights and biases (and batch-normalisation
        scales, shifts and running statistics) stay bit for bit as they
        started, under every solver, penalty and ``partial_fit``, and their
        gradients are not computed.  At most the number of hidden layers:
        the output layer always trains.
"""

COMMON_ATTRIBUTES = """
    loss_ : float
        Loss at the end of training (last epoch's mean mini-batch loss).

    best_loss_ : float or None
        Lowest training loss seen; None when ``early_stopping=True``.

    loss_curve_ : list of float
        Training loss after each epoch (stochastic solvers).

    validation_scores_ : list of float or None
        Validation score after each epoch with ``early_stopping=True`` or a
        validation set given to ``fit``.

    validation_loss_curve_ : list of float or None
        Validation loss (no penalty terms) after each epoch, when validating
        (fastbp only).

    best_validation_score_ : float or None
        Best validation score with ``early_stopping=True``.

    t_ : int
        Number of training samples seen by the solver.

    coefs_ : list of ndarray of shape (n_in, n_out)
        Weight matrix of each layer.

    intercepts_ : list of ndarray of shape (n_out,)
        Bias vector of each layer.

    batch_norm_scales_, batch_norm_shifts_ : list of ndarray of shape (n_units,)
        Learned scale and shift of each hidden layer, with ``batch_norm=True``
        (fastbp only).

    batch_norm_means_, batch_norm_vars_ : list of ndarray of shape (n_units,)
        Running mean and variance of each hidden layer's pre-activations,
        used at prediction, with ``batch_norm=True`` (fastbp only).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen during fit, when X had string column names.

    n_iter_ : int
        Number of epochs (or L-BFGS iterations) run by the last fit.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of outputs.

    out_activation_ : str
        Output activation.
"""


def fill(doc):
    """Insert the shared parameter and attribute sections into ``doc``."""
    return doc.replace("%(parameters)s", COMMON_PARAMETERS.strip("\n")).replace(
        "%(attributes)s", COMMON_ATTRIBUTES.strip("\n")
    )
