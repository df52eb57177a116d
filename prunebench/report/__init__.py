"""prunebench.report"""
