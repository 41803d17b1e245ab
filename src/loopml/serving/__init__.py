"""Serving: deployments and their traffic policies, the online REST app, batch scoring,
stream consumers and the prediction log."""
