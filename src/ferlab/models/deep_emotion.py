"""Deep-Emotion: a small CNN behind a spatial transformer (Minaee & Abdolrashidi 2019)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ferlab.errors import ModelError
from ferlab.models.base import FerModel, check_rate, make_classifier
from ferlab.models.registry import register_model

_INPUT = (48, 48)
_IDENTITY = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@register_model(
    "deep_emotion",
    description="Deep-Emotion: spatial transformer + 4-conv CNN (67k parameters)",
    source="Minaee & Abdolrashidi, Deep-Emotion, arXiv:1902.01019 (2019); code: github.com/omarsayed7/Deep-Emotion",
)
class DeepEmotion(FerModel):
    """Deep-Emotion attentional CNN.

    Source: S. Minaee, A. Abdolrashidi, "Deep-Emotion: Facial Expression Recognition Using
    Attentional Convolutional Network", arXiv:1902.01019 (2019), and the public PyTorch
    implementation github.com/omarsayed7/Deep-Emotion (which says it is not the authors'
    own). Layers and their names follow that code, so its checkpoints load: conv1..conv4
    (10 filters, 3x3, no padding), 2x2 max pools after conv2 and conv4, one BatchNorm2d(10)
    after conv4, fc1 810->50, fc2 50->7; the spatial transformer's localization net
    (Conv 7x7 8, pool, ReLU, Conv 5x5 10, pool, ReLU) and fc_loc (640->32->6), whose last
    layer starts at the identity transform. With one input channel and 7 classes it has
    66,877 parameters.

    Departures:

    * the original forward calls ``F.dropout``, which stays active in eval mode, so its
      predictions are random at test time (a bug); here dropout is an ``nn.Dropout``
      module, off in eval mode. Rate ``drop_rate=0.5`` as ``F.dropout``'s default;
    * ``affine_grid``/``grid_sample`` use ``align_corners=False`` explicitly (the code
      relied on the default), which makes the initial warp an exact identity;
    * ``in_chans=3`` widens conv1 and the first localization conv; the paper is grayscale.

    Options for studies (the defaults are the paper's network):

    * ``width`` (default 10): filters of conv1..conv4 (fc1 takes ``width * 81`` inputs and
      ``hidden`` outputs, default 50), to scale the network to a compute budget;
    * ``stn=False`` drops the spatial transformer (the ablation of the paper's Table 3):
      the conv stack sees the input unwarped, and no localization net is built.

    The fully connected sizes fix the input at 48x48; other sizes raise `ModelError`.
    """

    in_chans_layers = ("conv1", "localization.0")
    head_layers = ("fc2",)

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        drop_rate: float = 0.5,
        width: int = 10,
        hidden: int = 50,
        stn: bool = True,
    ) -> None:
        super().__init__()
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in (width, hidden)):
            raise ModelError(f"width and hidden must be integers >= 1, got {width!r} and {hidden!r}")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_features = width
        self.head_hidden_size = hidden
        self.conv1 = nn.Conv2d(in_chans, width, 3)
        self.conv2 = nn.Conv2d(width, width, 3)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.conv3 = nn.Conv2d(width, width, 3)
        self.conv4 = nn.Conv2d(width, width, 3)
        self.pool4 = nn.MaxPool2d(2, 2)
        self.norm = nn.BatchNorm2d(width)
        self.dropout = nn.Dropout(check_rate("drop_rate", drop_rate))
        self.fc1 = nn.Linear(width * 81, hidden)
        self.fc2 = make_classifier(hidden, num_classes)
        self.stn = bool(stn)
        if not self.stn:
            self.in_chans_layers = ("conv1",)
            return
        self.localization = nn.Sequential(
            nn.Conv2d(in_chans, 8, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(),
            nn.Conv2d(8, 10, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(),
        )
        self.fc_loc = nn.Sequential(nn.Linear(640, 32), nn.ReLU(), nn.Linear(32, 6))
        nn.init.zeros_(self.fc_loc[2].weight)
        with torch.no_grad():
            self.fc_loc[2].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def transform(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spatial transformer: return the warped input and the ``B x 2 x 3`` affine theta
        (without the transformer, ``stn=False``: the input itself and the identity)."""
        if tuple(x.shape[-2:]) != _INPUT:
            raise ModelError(
                f"deep_emotion takes {_INPUT[0]}x{_INPUT[1]} images (its fully connected layers "
                f"are sized for them), got {x.shape[-2]}x{x.shape[-1]}; resize the input"
            )
        if not self.stn:
            return x, _IDENTITY.to(x).expand(len(x), 2, 3)
        theta = self.fc_loc(self.localization(x).flatten(1)).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, align_corners=False), theta

    def _features(self, warped: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(warped)))
        out = F.relu(self.conv3(F.relu(self.pool2(out))))
        return F.relu(self.pool4(self.norm(self.conv4(out))))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Warp, then the conv stack; ``B x 10 x 9 x 9``."""
        return self._features(self.transform(x)[0])

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Dropout, flatten, fc1 + ReLU, fc2."""
        return self.fc2(F.relu(self.fc1(self.dropout(features).flatten(1))))

    def forward_explain(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits, features, the warped input ``"warped"`` and the affine ``"theta"``."""
        warped, theta = self.transform(x)
        features = self._features(warped)
        return {
            "logits": self.forward_head(features),
            "features": features,
            "warped": warped,
            "theta": theta,
        }
