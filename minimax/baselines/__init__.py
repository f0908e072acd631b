"""minimax.baselines"""
