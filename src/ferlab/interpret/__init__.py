"""What the networks look at: activation maps, Grad-CAM and each family's own pictures
(`explain`: spatial-transformer warps, attention maps, RAN's regions), for `ferlab explain`."""
