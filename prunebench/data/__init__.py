"""prunebench.data"""
