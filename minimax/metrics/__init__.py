"""minimax.metrics"""
