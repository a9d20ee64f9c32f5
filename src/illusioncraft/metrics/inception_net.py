"""The FID InceptionV3 (Szegedy et al., 2016, as frozen in TensorFlow's 2015-12-05 graph) in plain torch.

This is the network behind published FID, KID and Inception Score numbers (pytorch-fid, torch-fidelity,
TTUR): InceptionV3 with the graph's own quirks, which torchvision's model lacks. Average pools ignore the zero
padding (``count_include_pad=False``), the last block pools its side branch with a max instead of an average,
batch norm uses eps 0.001, and the classifier has 1,008 outputs. Module names follow the state-dict layout of
``pt_inception-2015-12-05-6726825d.pth`` so that file loads as it is.

Input: (B, 3, 299, 299) already scaled to [-1, 1]. Output: the 2048-d pool features and the 1,008 logits
without the classifier's bias (the Inception Score's input in torch-fidelity and TTUR).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Size = int | tuple[int, int]


class ConvBN(nn.Module):
    """Convolution without bias, batch norm (eps 0.001), ReLU: the graph's one kind of layer."""

    def __init__(self, inputs: int, outputs: int, kernel: Size, stride: int = 1, padding: Size = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(inputs, outputs, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(outputs, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def average_pool_3x3(x: Tensor) -> Tensor:
    """3x3 average with stride 1 whose border windows average only the pixels inside the image (TensorFlow's)."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1 (64 + 64 + 96 + ``pool`` channels)."""

    def __init__(self, inputs: int, pool: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(inputs, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = ConvBN(inputs, 48, 1), ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(inputs, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(inputs, pool, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(average_pool_3x3(x)),
        ], dim=1)


class ReductionB(nn.Module):
    """35x35 -> 17x17: strided 3x3 | 1x1-3x3-strided 3x3 | max pool (384 + 96 + inputs channels)."""

    def __init__(self, inputs: int) -> None:
        super().__init__()
        self.branch3x3 = ConvBN(inputs, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(inputs, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], dim=1)


class BlockC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (1x7 then 7x1); 4 x 192 output channels."""

    def __init__(self, inputs: int, width: int) -> None:
        super().__init__()
        row, column = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.branch1x1 = ConvBN(inputs, 192, 1)
        self.branch7x7_1 = ConvBN(inputs, width, 1)
        self.branch7x7_2, self.branch7x7_3 = ConvBN(width, width, **row), ConvBN(width, 192, **column)
        self.branch7x7dbl_1 = ConvBN(inputs, width, 1)
        self.branch7x7dbl_2, self.branch7x7dbl_3 = ConvBN(width, width, **column), ConvBN(width, width, **row)
        self.branch7x7dbl_4, self.branch7x7dbl_5 = ConvBN(width, width, **column), ConvBN(width, 192, **row)
        self.branch_pool = ConvBN(inputs, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        double = self.branch7x7dbl_3(self.branch7x7dbl_2(self.branch7x7dbl_1(x)))
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            self.branch7x7dbl_5(self.branch7x7dbl_4(double)),
            self.branch_pool(average_pool_3x3(x)),
        ], dim=1)


class ReductionD(nn.Module):
    """17x17 -> 8x8: 1x1-strided 3x3 | 1x1-1x7-7x1-strided 3x3 | max pool (320 + 192 + inputs channels)."""

    def __init__(self, inputs: int) -> None:
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = ConvBN(inputs, 192, 1), ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(inputs, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        seven = self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x)))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), self.branch7x7x3_4(seven),
                          F.max_pool2d(x, 3, stride=2)], dim=1)


class BlockE(nn.Module):
    """8x8 block whose 3x3 branches split into parallel 1x3 and 3x1 halves; 2,048 output channels. The graph
    pools the side branch with an average in the first E block and with a max in the second (``max_pool``)."""

    def __init__(self, inputs: int, max_pool: bool) -> None:
        super().__init__()
        row, column = dict(kernel=(1, 3), padding=(0, 1)), dict(kernel=(3, 1), padding=(1, 0))
        self.max_pool = max_pool
        self.branch1x1 = ConvBN(inputs, 320, 1)
        self.branch3x3_1 = ConvBN(inputs, 384, 1)
        self.branch3x3_2a, self.branch3x3_2b = ConvBN(384, 384, **row), ConvBN(384, 384, **column)
        self.branch3x3dbl_1, self.branch3x3dbl_2 = ConvBN(inputs, 448, 1), ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a, self.branch3x3dbl_3b = ConvBN(384, 384, **row), ConvBN(384, 384, **column)
        self.branch_pool = ConvBN(inputs, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        single = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else average_pool_3x3(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(single), self.branch3x3_2b(single),
            self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double),
            self.branch_pool(pooled),
        ], dim=1)


class FIDInceptionV3(nn.Module):
    """The whole network; ``forward`` returns (2048-d features, 1,008 logits without the classifier's bias)."""

    num_features, num_classes, input_size = 2048, 1008, 299

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = BlockA(192, 32), BlockA(256, 64), BlockA(288, 64)
        self.Mixed_6a = ReductionB(288)
        self.Mixed_6b, self.Mixed_6c = BlockC(768, 128), BlockC(768, 160)
        self.Mixed_6d, self.Mixed_6e = BlockC(768, 160), BlockC(768, 192)
        self.Mixed_7a = ReductionD(768)
        self.Mixed_7b, self.Mixed_7c = BlockE(1280, max_pool=False), BlockE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (B, 64, 147, 147)
        x = F.max_pool2d(x, 3, stride=2)  # (B, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (B, 192, 71, 71)
        x = F.max_pool2d(x, 3, stride=2)  # (B, 192, 35, 35)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # (B, 288, 35, 35)
        x = self.Mixed_6a(x)  # (B, 768, 17, 17)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))  # (B, 768, 17, 17)
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))  # (B, 2048, 8, 8)
        features = x.mean(dim=(2, 3))  # (B, 2048)
        return features, features @ self.fc.weight.T  # (B, 2048), (B, 1008)
