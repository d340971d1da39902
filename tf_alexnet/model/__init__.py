"""The network: spec (plain Python), layers, the three groupings, prediction over crops."""
