"""The gateway cluster's components, one per module, and the config model they are built from."""
