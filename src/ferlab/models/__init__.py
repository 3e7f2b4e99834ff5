"""The ferlab model zoo: a timm-style registry of facial expression recognition models.

>>> from ferlab.models import create_model, list_models
>>> model = create_model("resnet_like", num_classes=7, in_chans=1)

Every model has ``num_classes``, ``in_chans``, ``num_features``, ``head_hidden_size``,
``forward_features`` (last spatial map), ``forward_head``, ``forward`` and
``forward_explain`` (logits plus attention maps and the like); see `ferlab.models.base`.
Importing this package imports every family module, which registers its models.
"""

from ferlab.models import (  # noqa: F401  (imported to register the models)
    attention_net,
    cnn_baselines,
    deep_emotion,
    inception_resnet,
    ran,
    torchvision_models,
)
from ferlab.models.base import FerModel
from ferlab.models.pretrained import LoadReport, load_pretrained
from ferlab.models.profile import ModelProfile, count_parameters, measure_flops, profile_model, profile_models
from ferlab.models.ran import RegionBiasedLoss
from ferlab.models.registry import ModelInfo, create_model, get_model_info, list_models, register_model

__all__ = [
    "FerModel",
    "LoadReport",
    "ModelInfo",
    "ModelProfile",
    "RegionBiasedLoss",
    "count_parameters",
    "create_model",
    "get_model_info",
    "list_models",
    "load_pretrained",
    "measure_flops",
    "profile_model",
    "profile_models",
    "register_model",
]
