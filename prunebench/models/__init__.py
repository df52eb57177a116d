"""prunebench.models"""
