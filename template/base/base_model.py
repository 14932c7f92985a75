from torch import nn


class BaseModel(nn.Module):
    """An ``nn.Module`` whose printout ends with its number of trainable parameters."""

    def __str__(self) -> str:
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return f"{super().__str__()}\nTrainable parameters: {trainable:,}"
