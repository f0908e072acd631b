"""Other generative models of the study: a JS GAN and a Gaussian VAE (issue 16)."""

from minimax.generative.gan import GANEstimator, ModeCollapse
from minimax.generative.vae import VAEEstimator

__all__ = ["GANEstimator", "ModeCollapse", "VAEEstimator"]
