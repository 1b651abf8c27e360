"""Training and fine-tuning of mMACE on extxyz DFT data (torch; imported only on demand).

    from spinlattice.potentials.training import train, evaluate
    result = train({"data": {"path": "fe.extxyz"}, "output": "run"})

Modules: :mod:`.data` (frames, splits, batches, spin-rotation augmentation), :mod:`.onebody`
(E0s and E0_z(|m|) by regularised least squares), :mod:`.loss` (loss, metrics), :mod:`.config`
(defaults, validation, lr schedule), :mod:`.loop` (train / fine-tune / resume / evaluate),
:mod:`.plots`. Importing this package does not import torch; the functions below do.
"""

__all__ = ["train", "finetune", "evaluate", "resolve_config"]


def train(config, **kwargs):
    """See :func:`.loop.train`."""
    from .loop import train as _train
    return _train(config, **kwargs)


def finetune(config, checkpoint, **kwargs):
    """Fine-tune the model in ``checkpoint`` (model file or training checkpoint) on ``config``'s
    data (lr 5e-4 and clip 10 by default, Ho et al. arXiv 2604.08143); see :func:`.loop.train`."""
    from .loop import load_any_model, train as _train
    return _train(config, init_model=load_any_model(checkpoint), finetune=True, **kwargs)


def evaluate(checkpoint, data_path, **kwargs):
    """See :func:`.loop.evaluate`."""
    from .loop import evaluate as _evaluate
    return _evaluate(checkpoint, data_path, **kwargs)


def resolve_config(config, finetune=False):
    """See :func:`.config.resolve_config`."""
    from .config import resolve_config as _resolve
    return _resolve(config, finetune=finetune)
