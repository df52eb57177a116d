"""prunebench.metrics"""
