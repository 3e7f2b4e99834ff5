"""How often Grad-CAM comes out empty (all-negative evidence), per layer, on dataset faces.

    python bench/gradcam_empty.py --data-root ../shared/data/fer2013 [--model ferlab-ferplus] [--n 200] \
        [--layers stages.2 stages.1]

Reads the first ``--n`` faces of the FER2013 test split (PrivateTest) and counts the faces
whose Grad-CAM of the predicted class is zero everywhere, at `forward_features` (the
default) and at each named layer.
"""

from __future__ import annotations

import argparse

import torch

from ferlab.interpret.explain import model_inputs, split_inputs
from ferlab.interpret.internals import grad_cam
from ferlab.models.files import load_model
from ferlab.weights import resolve_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--model", default="ferlab-ferplus")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--layers", nargs="*", default=["stages.2", "stages.1"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _ = load_model(resolve_model(args.model))
    x = model_inputs(split_inputs("fer2013", args.data_root, "test", args.n, None, {}).images, model.eval())
    for layer in [None, *args.layers]:
        cam, _ = grad_cam(model, x, layer=layer)
        empty = int((cam.amax(dim=(1, 2)) == 0).sum())
        print(f"{args.model} Grad-CAM at {layer or 'forward_features'}: empty for {empty} of {len(x)} test faces")


if __name__ == "__main__":
    main()
