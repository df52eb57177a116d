"""prunebench.pruning"""
