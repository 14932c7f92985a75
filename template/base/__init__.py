from base.base_data_loader import BaseDataLoader, EpochBatchSampler
from base.base_model import BaseModel
from base.base_trainer import BaseTrainer

__all__ = ["BaseDataLoader", "BaseModel", "BaseTrainer", "EpochBatchSampler"]
