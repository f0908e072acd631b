"""minimax.targets"""
