"""prunebench.engine"""
