"""The photonic processor model: MZI meshes, imperfections, in-situ gradients."""
