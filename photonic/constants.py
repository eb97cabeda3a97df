"""Named physical constants and conventions of the photonic model (no bare magic numbers)."""

from __future__ import annotations

import numpy as np

#: Splitting angle of an ideal 50:50 directional coupler, rad (B = [[sin, i cos], [i cos, sin]]).
BALANCED_SPLIT_RAD = np.pi / 4
#: Field amplitude factor per dB of power loss: amplitude = 10^(−loss_db / DB_PER_AMPLITUDE_DECADE).
DB_PER_AMPLITUDE_DECADE = 20.0
#: Full range of a phase shifter, rad.
TWO_PI = 2 * np.pi
