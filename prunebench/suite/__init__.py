"""prunebench.suite"""
