"""Two MNIST digits side by side on one canvas, with the class of every pixel as the target."""

import torch

from data_loader.mnist import MnistDataset

HEIGHT, WIDTH, DIGIT = 28, 56, 28
MAX_SHIFT = 8  # the left digit starts at column 0..8, the right one at column 20..28


class DigitCanvasDataset(MnistDataset):
    """Canvases (28 x 56) of two MNIST digits each, built batch by batch, every digit used once
    in a layout fixed by ``layout_seed``. A pixel of at least ``ink_threshold`` (of 255) has the
    class of the brighter digit there plus one; every other pixel is background (0)."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        layout_seed: int = 0,
        ink_threshold: int = 128,
    ):
        super().__init__(images, labels)
        self.ink_threshold = ink_threshold
        generator = torch.Generator().manual_seed(layout_seed)
        order = torch.randperm(len(labels), generator=generator)
        self.pairs = order[: len(order) // 2 * 2].view(-1, 2)
        self.columns = torch.randint(0, MAX_SHIFT + 1, self.pairs.shape, generator=generator)
        self.columns[:, 1] += WIDTH - DIGIT - MAX_SHIFT

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitems__(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images (B, 1, 28, 56) and int64 masks (B, 28, 56), in a few tensor ops."""
        pairs, columns = self.pairs[indices], self.columns[indices]
        layers = torch.zeros(2, len(indices), HEIGHT, WIDTH, dtype=torch.uint8)
        offsets = torch.arange(DIGIT)
        for side in range(2):
            where = (columns[:, side, None, None] + offsets).expand(-1, HEIGHT, DIGIT)
            layers[side].scatter_(2, where, self.images[pairs[:, side]])
        canvas, brighter = layers.max(0)
        classes = self.labels[pairs] + 1
        masks = torch.where(brighter.bool(), classes[:, 1, None, None], classes[:, 0, None, None])
        return canvas.unsqueeze(1), torch.where(canvas >= self.ink_threshold, masks, 0)
