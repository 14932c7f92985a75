from base.base_data_loader import BaseDataLoader, EpochBatchSampler
from base.base_model import BaseModel

__all__ = ["BaseDataLoader", "BaseModel", "EpochBatchSampler"]
