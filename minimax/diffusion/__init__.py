"""minimax.diffusion"""
