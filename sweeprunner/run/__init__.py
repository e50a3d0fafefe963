"""The driver: connects to Ray, checks the cluster and storage, runs the Tuner, records results."""
