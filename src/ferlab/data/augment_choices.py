"""The names of the augmentation presets and batch-mixing modes, without torch (settings and help list them;
`ferlab.data.transforms` builds them)."""

AUG_PRESETS: tuple[str, ...] = ("none", "basic", "strong", "wild", "jpeg")
MIX_MODES: tuple[str, ...] = ("none", "mixup", "cutmix", "both")
