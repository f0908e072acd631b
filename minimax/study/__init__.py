"""minimax.study"""
