"""Adapters that record usage where it already is: SDK responses, LiveKit sessions, OTel traces."""
