"""Test support: stand-ins, fixtures, the SSH test hosts, the simulator, builders; no tests here."""
