"""kdsearch: distributed hyperparameter search for knowledge distillation in multimodal transformers."""

__version__ = "0.1.0"
