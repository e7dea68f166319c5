"""gatewayctl: offline tools for the gateway-cluster Pulumi program (plan, preflight, schema)."""
