from trainer.trainer import Trainer, evaluate, freeze

__all__ = ["Trainer", "evaluate", "freeze"]
