"""What to ask and where: %config KimiLab, provider presets, per-model rules, the target."""
