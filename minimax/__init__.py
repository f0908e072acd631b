"""minimax: check statistical rate theory by simulation.

First job: measure how fast diffusion models learn a density of Besov smoothness s in D
dimensions as the sample size n grows, against the minimax exponent s/(2s+D)
(Oko, Akiyama & Suzuki, ICML 2023).
"""

__version__ = "0.1.0"
